/**
 * Origin Shield, as packaged. "Using Amazon CloudFront Origin Shield": with it
 * on, every regional edge cache's origin requests go through one more cache in
 * the chosen region, and "origin-facing triggers (origin request and origin
 * response) run in the AWS Region where Origin Shield is enabled": with the
 * shield in the stack's region (us-east-1, where Lambda@Edge is deployed and
 * the buckets are), the miss path's S3 and SSM calls are local and one
 * derivative is rendered once for all regional caches.
 *
 * And what the shield (or any layer) may cache on the way to a derivative that
 * is about to exist. "Control how long CloudFront caches errors": errors are
 * cached for 10 s by default, and `no-store` is honoured only for 404, 410,
 * 414 and 501; so 403 and the 5xx a miss can answer are set to 0 s, and the
 * image cache policy's MinTTL is 0 so the 302 of an oversized derivative
 * (`no-store`, driven here through the packaged origin-response) is never
 * cached and cannot send the viewer round in a loop.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { startSsmServer } from '../../bench/lib/ssm-server.js';
import { createConfig } from '../../src/core/config.js';
import { encryptBuffer, generateMasterKeyHex, parseMasterKey } from '../../src/core/envelope.js';
import type { CloudFrontRequest, CloudFrontResultResponse } from '../../src/edge/cloudfront.js';
import { startS3rver } from '../../src/local/embedded-servers.js';
import { createS3Client, LOCAL_CREDENTIALS } from '../../src/storage/clients.js';
import { createS3Store } from '../../src/storage/s3-store.js';
import { originRequestEvent, originResponseEvent } from '../helpers/events.js';
import { withEnv } from './packaged.js';
import {
  type Cfn,
  deployWorkDir,
  ENTRY_FILE,
  edgeConfigFrom,
  type FunctionName,
  type Packaged,
  packagedStages,
  type Stage,
  unpackedFunction,
} from './stages.js';

const NOT_CACHED_ERRORS = [403, 500, 502, 503, 504];

describe('deploy: Origin Shield and what may be cached on the way to a derivative', function () {
  this.timeout(300_000);
  let packaged: Record<Stage, Packaged>;

  before(async () => {
    packaged = await packagedStages();
  });

  const distribution = (stage: Stage): Cfn =>
    packaged[stage].template.Resources.ImageDistribution.Properties.DistributionConfig;
  const derivativesOrigin = (stage: Stage): Cfn =>
    distribution(stage).Origins.find((origin: Cfn) => origin.Id === 'derivatives');

  it('puts Origin Shield in front of the derivatives bucket in prod, in the stack region, and not in dev', () => {
    expect(derivativesOrigin('prod').OriginShield).to.deep.equal({
      Enabled: true,
      OriginShieldRegion: { Ref: 'AWS::Region' },
    });
    expect(derivativesOrigin('dev').OriginShield.Enabled).to.equal(false);
    // Only S3 behind the image triggers: the API origin is never cached, a shield would only add a hop.
    const api = distribution('prod').Origins.find((origin: Cfn) => origin.Id === 'api');
    expect(api.OriginShield).to.equal(undefined);
    expect(packaged.prod.state.service.provider.region).to.equal('us-east-1');
  });

  for (const stage of ['dev', 'prod'] as const) {
    it(`${stage}: caches no 403 and no 5xx (0 s, not the default 10 s), and the image cache policy's MinTTL is 0`, () => {
      const errors = distribution(stage).CustomErrorResponses as Cfn[];
      for (const code of NOT_CACHED_ERRORS) {
        const entry = errors.find((e) => e.ErrorCode === code);
        expect(entry, `ErrorCode ${code}`).to.deep.equal({ ErrorCode: code, ErrorCachingMinTTL: 0 });
      }
      // No error page replaces an answer: the JSON error bodies reach the viewer as they are.
      expect(errors.every((e) => e.ResponsePagePath === undefined && e.ResponseCode === undefined)).to.equal(true);
      const policy = packaged[stage].template.Resources.ImageCachePolicy.Properties.CachePolicyConfig;
      // Above 0, CloudFront would cache the 302's `no-store` answer for MinTTL seconds.
      expect(policy.MinTTL).to.equal(0);
    });
  }

  it('the packaged origin-response answers an oversized derivative 302 with no-store, and its follow-up passes through', async function () {
    this.timeout(120_000);
    const config = createConfig(edgeConfigFrom(packaged.dev.state.service.custom.edgeConfig));
    const s3 = await startS3rver({
      directory: join(deployWorkDir(), 's3rver-origin-shield'),
      buckets: [config.originalsBucket, config.derivativesBucket],
    });
    const keyHex = generateMasterKeyHex();
    const ssm = await startSsmServer({ '/edge-resizer/dev/master-key': keyHex }, { credentials: LOCAL_CREDENTIALS });
    const client = createS3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      credentials: LOCAL_CREDENTIALS,
      timeoutMs: 5000,
      maxAttempts: 2,
    });
    const store = createS3Store({
      client,
      originalsBucket: config.originalsBucket,
      derivativesBucket: config.derivativesBucket,
    });
    try {
      // Noise: its PNG stays far over the 1 MB a generated response may carry.
      const noise = await sharp(Buffer.from(Array.from({ length: 900 * 700 * 3 }, () => (Math.random() * 256) | 0)), {
        raw: { width: 900, height: 700, channels: 3 },
      })
        .png()
        .toBuffer();
      const { body, metadata } = encryptBuffer(noise, parseMasterKey(keyHex));
      await store.putOriginal('big/noise.png', body, metadata, body.length);
      const env = {
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ENDPOINT_URL_SSM: ssm.endpoint,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        AWS_SESSION_TOKEN: 'origin-shield-test-session',
      };
      await withEnv(env, async () => {
        const originRequest = await loadHandler('dev', 'originRequest');
        const originResponse = await loadHandler('dev', 'originResponse');
        const forwarded = (await originRequest(
          originRequestEvent({
            uri: '/big/noise.png',
            querystring: 'width=900&format=png',
            accept: '*/*',
            // What the viewer function records for this redirect.
            headers: { 'X-Resizer-Location': '/big/noise.png?width=900&format=png' },
          }),
        )) as CloudFrontRequest;
        // S3's answer for the derivative that does not exist yet.
        const redirect = (await originResponse(originResponseEvent(forwarded, 403))) as CloudFrontResultResponse;
        expect(redirect.status, redirect.body).to.equal('302');
        expect(redirect.headers?.['cache-control']?.[0]?.value).to.equal('no-store');
        expect(redirect.headers?.location?.[0]?.value).to.equal('/big/noise.png?width=900&format=png');

        const stored = await store.getDerivative(forwarded.uri.slice(1));
        expect(stored?.body.length).to.be.greaterThan(1024 * 1024);
        // The follow-up: S3 now answers 200 with the recorded revision, which the trigger passes through, cacheable.
        const revision = stored?.metadata['resizer-source'] ?? '';
        const passed = await originResponse(
          originResponseEvent(forwarded, 200, { 'Content-Type': 'image/png', 'x-amz-meta-resizer-source': revision }),
        );
        expect(passed.status).to.equal('200');
        expect('body' in passed).to.equal(false);
        expect(passed.headers?.['cache-control']?.[0]?.value).to.equal('public, max-age=31536000, immutable');
      });
    } finally {
      // Our containers' clients point at the servers closed below: no later test file may reuse them.
      for (const dir of loaded) forgetBundle(dir);
      client.destroy();
      await ssm.close();
      await s3.close();
    }
  });
});

type Handler = (event: unknown) => Promise<Cfn>;

async function loadHandler(stage: Stage, name: FunctionName): Promise<Handler> {
  const dir = await unpackedFunction(stage, name);
  // A fresh container: another test file may have loaded this bundle with its own endpoints in its clients.
  forgetBundle(dir);
  loaded.add(dir);
  return createRequire(join(dir, 'index.js'))(join(dir, ENTRY_FILE[name])).handler as Handler;
}

const loaded = new Set<string>();

/** Drops a bundle's modules from the require cache, so the next `require` starts a new container. */
function forgetBundle(dir: string): void {
  const cache = createRequire(join(dir, 'index.js')).cache;
  for (const id of Object.keys(cache)) if (id.startsWith(dir)) delete cache[id];
}
