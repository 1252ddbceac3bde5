/**
 * Row 11: performance at a distance. Deployed, the origin triggers run in a
 * regional edge cache near the viewer while S3 and SSM are in us-east-1, so a
 * request's latency is its number of sequential round trips to them. Here the
 * product's edge code (origin-request, CloudFront's S3 origin fetch as the
 * local CDN does it, origin-response with an S3 client and an SSM read as the
 * edge wiring makes them) runs in this process against the bench's s3rver and
 * the loopback SSM, each behind a latency proxy (bench/lib/latency-proxy.ts)
 * at a round-trip time of 0, 80 and 200 ms; the API's client sits behind one
 * too (the API runs beside S3, so the API's own S3 calls are not delayed).
 * Every line shows the time and the count of sequential round trips, which
 * the machine's load does not change.
 */

import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { stagedUpload } from '../../src/cli/staged-upload.js';
import { createConfig, type EdgeResizerConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/log.js';
import { createOriginRequestHandler } from '../../src/edge/origin-request.js';
import { createOriginResponseHandler } from '../../src/edge/origin-response.js';
import { createEdgePipeline, type EdgeResponse } from '../../src/local/edge-pipeline.js';
import { createS3Client, LOCAL_CREDENTIALS } from '../../src/storage/clients.js';
import { S3RVER_KEY_CODEC } from '../../src/storage/key-codec.js';
import { createMasterKeyProvider } from '../../src/storage/master-key.js';
import { createEdgeStore } from '../../src/storage/s3-store.js';
import { readSsmParameter } from '../../src/storage/ssm-parameter.js';
import { cacheLayer, hop } from '../lib/cache-layers.js';
import type { BenchContext, BenchRow } from '../lib/context.js';
import {
  describeCalls,
  type LatencyProxy,
  type ProxyCall,
  sequentialRoundTrips,
  startLatencyProxy,
} from '../lib/latency-proxy.js';
import { figure, type Line, type RowResult } from '../lib/report.js';
import { type SsmServer, startSsmServer } from '../lib/ssm-server.js';

/** Round-trip times measured, ms: on the same host, and two regional edge caches' distances from us-east-1. */
export const DISTANCES_MS = [0, 80, 200] as const;

const MASTER_KEY_PARAMETER = '/edge-resizer/bench/master-key';
const VARIANT = 'width=400&format=webp&quality=80';
/** A derivative over the 1 MB a Lambda@Edge origin-response may generate (a 302), and over the SDK's 2 MB 100-continue threshold. */
const LARGE_VARIANT = 'width=2048&format=png';
const WEBP_ACCEPT = 'image/webp,*/*;q=0.8';
/** What several regional edge caches ask for at once in the shield lines: a derivative none of them has. */
const SHARED_VARIANT = 'width=320&format=webp&quality=80';
/** Regional edge caches in the shield lines. */
const REGIONAL_CACHES = 3;

/** A fresh Lambda@Edge container: its own S3 client and SSM agents (new connections), an empty master-key cache. */
interface Container {
  cdn: (uri: string, querystring: string) => Promise<EdgeResponse>;
  transforms(): number;
}

/** One request's figures: time and sequential round trips, with its calls for the notes. */
interface Measured {
  ms: number;
  roundTrips: number;
  calls: string[];
}

export function distanceRow(ctx: BenchContext): BenchRow {
  const log: ProxyCall[] = [];
  let servers:
    | { s3: LatencyProxy; origin: LatencyProxy; ssm: LatencyProxy; api: LatencyProxy; ssmServer: SsmServer }
    | undefined;
  const config: EdgeResizerConfig = createConfig({
    masterKey: { type: 'ssm', parameterName: MASTER_KEY_PARAMETER, region: 'us-east-1' },
  });
  const key = ctx.inputs.photo2560.key;
  const uploadKey = 'bench/distance/upload.jpg';
  const stagedKey = 'bench/distance/staged.png';

  async function start() {
    const ssmServer = await startSsmServer({ [MASTER_KEY_PARAMETER]: ctx.cdnInfo.masterKeyHex });
    const s3 = await startLatencyProxy({ via: 's3', target: ctx.cdnInfo.s3Endpoint, rttMs: 0, log });
    // CloudFront keeps its connections to an origin open: its S3 fetch pays no handshake.
    const origin = await startLatencyProxy({
      via: 'origin',
      target: ctx.cdnInfo.s3Endpoint,
      rttMs: 0,
      connectRoundTrips: 0,
      log,
    });
    const ssm = await startLatencyProxy({ via: 'ssm', target: ssmServer.endpoint, rttMs: 0, log });
    const cdnUrl = ctx.cdnInfo.url;
    // The API's answers name the API's own URL (a staged upload's part URLs): they must lead back through the proxy.
    let apiUrl = '';
    const api = await startLatencyProxy({
      via: 'api',
      target: cdnUrl,
      rttMs: 0,
      log,
      targetHost: true,
      rewriteBody: (body, type) =>
        type?.startsWith('application/json') ? Buffer.from(body.toString('utf8').replaceAll(cdnUrl, apiUrl)) : body,
    });
    apiUrl = api.url;
    servers = { s3, origin, ssm, api, ssmServer };
    return servers;
  }

  function container(s3: LatencyProxy, origin: LatencyProxy, ssm: LatencyProxy): Container {
    let transforms = 0;
    const clientOptions = { region: config.region, ...config.storage, credentials: LOCAL_CREDENTIALS };
    const store = createEdgeStore({
      client: createS3Client({ ...clientOptions, endpoint: s3.url }),
      originalsBucket: config.originalsBucket,
      derivativesBucket: config.derivativesBucket,
      keyCodec: S3RVER_KEY_CODEC,
    });
    const agents = { http: new Agent({ keepAlive: true, maxSockets: 64 }) };
    const masterKey = createMasterKeyProvider(config.masterKey, (name) =>
      readSsmParameter({ ...clientOptions, endpoint: ssm.url, agents }, name),
    );
    const pipeline = createEdgePipeline({
      originRequest: createOriginRequestHandler(config),
      originResponse: createOriginResponseHandler({
        config,
        store,
        masterKey,
        logger: createLogger('silent'),
        onTransform: () => {
          transforms += 1;
        },
      }),
      derivativesOrigin: `${origin.url}/${config.derivativesBucket}`,
      originKey: (derivativeKey) => S3RVER_KEY_CODEC.encode(derivativeKey),
    });
    return {
      cdn: (uri, querystring) => pipeline({ method: 'GET', uri, querystring, headers: { Accept: WEBP_ACCEPT } }),
      transforms: () => transforms,
    };
  }

  let regions: Container[] | undefined;
  let shield: Container | undefined;

  /** Every fetch at once for the shared derivative: the slowest answer, and the transforms counted before. */
  async function shared(fetches: ((uri: string, querystring: string) => Promise<EdgeResponse>)[]) {
    const transformsBefore = sum((regions ?? []).map((region) => region.transforms()));
    const started = performance.now();
    const answers = await Promise.all(fetches.map((fetch) => fetch(`/${key}`, SHARED_VARIANT)));
    for (const answer of answers) expectStatus(answer, 200, 'shared miss');
    return { slowestMs: performance.now() - started, transformsBefore };
  }

  /** Runs `work` with a clean call log: its time and its sequential round trips. */
  async function measure(work: () => Promise<void>): Promise<Measured> {
    // The previous request's last answer may still be logging its end.
    await new Promise((resolve) => setTimeout(resolve, 20));
    log.length = 0;
    const started = performance.now();
    await work();
    const ms = performance.now() - started;
    return { ms, roundTrips: sequentialRoundTrips(log), calls: describeCalls(log, started) };
  }

  const expectStatus = (response: EdgeResponse, status: number, what: string) => {
    if (response.status !== status)
      throw new Error(`${what}: expected ${status}, got ${response.status} ${response.body.toString().slice(0, 200)}`);
  };

  /** A plain S3 GET of the derivative, on a kept-alive connection: what a pass-through is compared with. */
  const plainAgent = new Agent({ keepAlive: true });
  const plainGet = (origin: LatencyProxy, path: string) =>
    new Promise<void>((resolve, reject) => {
      const url = new URL(`${origin.url}${path}`);
      const req = request(url, { agent: plainAgent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`plain GET: ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end();
    });

  /** One request to the API from afar, on a new connection (a CLI run opens its own). */
  const apiPut = (api: LatencyProxy, body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const url = new URL(`${api.url}/api/images/${uploadKey}`);
      const req = request(
        url,
        {
          method: 'PUT',
          agent: false,
          headers: {
            authorization: `Bearer ${ctx.cdnInfo.apiToken}`,
            'content-type': 'image/jpeg',
            'content-length': body.length,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            (res.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`PUT /api/images: ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  return {
    ids: [11],
    async run(): Promise<RowResult> {
      const { s3, origin, ssm, api } = servers ?? (await start());
      const photo = await readFile(ctx.inputs.photo2560.file);
      const png = ctx.inputs.png;
      const lines: Line[] = [];
      const notes: string[] = [];
      const data: Record<string, unknown> = {};
      const warm = container(s3, origin, ssm);
      regions ??= Array.from({ length: REGIONAL_CACHES }, () => container(s3, origin, ssm));
      shield ??= container(s3, origin, ssm);
      for (const rttMs of DISTANCES_MS) {
        for (const proxy of [s3, origin, ssm, api]) proxy.set({ rttMs });
        const at = `@ ${rttMs} ms`;
        // Warm the container's connections and its master key at this distance first.
        await ctx.purge(key);
        expectStatus(await warm.cdn(`/${key}`, VARIANT), 200, 'warm-up');

        await ctx.purge(key);
        const warmMiss = await measure(async () => expectStatus(await warm.cdn(`/${key}`, VARIANT), 200, 'warm miss'));
        const before = warm.transforms();
        const passThrough = await measure(async () =>
          expectStatus(await warm.cdn(`/${key}`, VARIANT), 200, 'pass-through'),
        );
        if (warm.transforms() !== before) throw new Error('the pass-through rendered');
        // The very object CloudFront fetched for the pass-through, by its path at the S3 origin.
        const originPath = log.find((call) => call.via === 'origin')?.path ?? '';
        const plain = await measure(() => plainGet(origin, originPath));

        await ctx.purge(key);
        const cold = container(s3, origin, ssm);
        const coldMiss = await measure(async () => expectStatus(await cold.cdn(`/${key}`, VARIANT), 200, 'cold miss'));

        await ctx.purge(key);
        const redirect = await measure(async () => {
          expectStatus(await warm.cdn(`/${key}`, LARGE_VARIANT), 302, 'large miss');
          expectStatus(await warm.cdn(`/${key}`, LARGE_VARIANT), 200, 'large pass-through');
        });

        const put = await measure(() => apiPut(api, photo));
        const staged = await measure(async () => {
          await stagedUpload({
            endpoint: api.url,
            token: ctx.cdnInfo.apiToken,
            file: png.file,
            size: png.bytes,
            key: stagedKey,
          });
        });

        // Several regional edge caches miss one new derivative at once: each runs its own triggers
        // against S3 from afar, or all go through one Origin Shield whose triggers run beside S3.
        for (const region of regions) {
          await ctx.purge(key);
          expectStatus(await region.cdn(`/${key}`, SHARED_VARIANT), 200, 'regional warm-up');
        }
        await ctx.purge(key);
        const unshielded = await shared(regions.map((region) => cacheLayer(region.cdn).fetch));
        const unshieldedTransforms = sum(regions.map((region) => region.transforms())) - unshielded.transformsBefore;
        await ctx.purge(key);
        for (const proxy of [s3, origin, ssm]) proxy.set({ rttMs: 0 });
        const shieldLayer = cacheLayer(shield.cdn);
        const before2 = shield.transforms();
        const shielded = await shared(
          Array.from({ length: REGIONAL_CACHES }, () => cacheLayer(hop(rttMs, shieldLayer.fetch)).fetch),
        );
        const shieldedTransforms = shield.transforms() - before2;
        // A regional cache that asks later finds the derivative at the shield: one round trip.
        const lateRegion = cacheLayer(hop(rttMs, shieldLayer.fetch));
        const lateStart = performance.now();
        expectStatus(await lateRegion.fetch(`/${key}`, SHARED_VARIANT), 200, 'shield hit');
        const shieldHitMs = performance.now() - lateStart;
        for (const proxy of [s3, origin, ssm]) proxy.set({ rttMs });

        const entries: [string, Measured, Measured | undefined, string | undefined, ((n: number) => boolean)?][] = [
          [
            'pass-through (derivative in S3)',
            passThrough,
            plain,
            '≤ plain S3 GET + 1 round trip',
            (n) => n <= plain.roundTrips + 1,
          ],
          ['warm miss, 400 px', warmMiss, undefined, '≤ 4 round trips', (n) => n <= 4],
          [
            'cold miss (new container, SSM read)',
            coldMiss,
            undefined,
            '≤ warm miss + 1 round trip',
            (n) => n <= warmMiss.roundTrips + 1,
          ],
          ['> 1 MB derivative: 302, then its pass-through', redirect, undefined, undefined],
          ['PUT /api/images (2560×1600 JPEG)', put, undefined, undefined],
          [`staged upload (${(png.bytes / 1e6).toFixed(0)} MB PNG)`, staged, undefined, undefined],
        ];
        for (const [what, ours, peer, target, check] of entries) {
          lines.push(
            figure(`${what} ${at}`, ours.ms, ms, peer ? { peerName: 'plain S3 GET', peerValue: peer.ms } : {}),
            figure(
              `  its sequential round trips ${at}`,
              ours.roundTrips,
              (n) => `${n.toFixed(0)} RT`,
              peer
                ? { peerName: 'plain S3 GET', peerValue: peer.roundTrips, noRatio: true, target, check, on: 'value' }
                : { target, check, on: 'value' },
            ),
          );
          data[`${what} ${at}`] = { ms: Math.round(ours.ms * 10) / 10, roundTrips: ours.roundTrips, calls: ours.calls };
          if (rttMs === 200) notes.push(`${what} at 200 ms: ${ours.calls.join('; ')}`);
        }
        const regionsLabel = `${REGIONAL_CACHES} regional caches miss one derivative at once`;
        lines.push(
          figure(`${regionsLabel}, no shield: slowest ${at}`, unshielded.slowestMs, ms),
          figure(`  its transforms ${at}`, unshieldedTransforms, count),
          figure(`${regionsLabel}, Origin Shield: slowest ${at}`, shielded.slowestMs, ms, {
            peerName: 'no shield',
            peerValue: unshielded.slowestMs,
          }),
          figure(`  its transforms ${at}`, shieldedTransforms, count, {
            target: '1 per derivative',
            check: (n) => n === 1,
            on: 'value',
          }),
          figure(`a later regional cache, hit at the shield ${at}`, shieldHitMs, ms),
        );
        data[`shield ${at}`] = {
          unshieldedSlowestMs: Math.round(unshielded.slowestMs),
          unshieldedTransforms,
          shieldedSlowestMs: Math.round(shielded.slowestMs),
          shieldedTransforms,
          shieldHitMs: Math.round(shieldHitMs),
        };
      }
      notes.unshift(
        'Each S3, SSM and API call crosses a proxy that holds the request and the answer for half the round-trip time each, ' +
          'and a new connection for one round trip more (TCP + TLS); round trips = the heaviest chain of calls that do not overlap.',
      );
      return {
        id: 11,
        title: 'Performance at a distance (S3, SSM and the API 0 / 80 / 200 ms away)',
        lines,
        notes,
        data,
      };
    },
    async close() {
      if (!servers) return;
      plainAgent.destroy();
      for (const proxy of [servers.s3, servers.origin, servers.ssm, servers.api]) await proxy.close();
      await servers.ssmServer.close();
    },
  };
}

const ms = (value: number) => `${value.toFixed(0)} ms`;
const count = (value: number) => value.toFixed(0);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
