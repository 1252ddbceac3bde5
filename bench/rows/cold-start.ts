/**
 * Row 7: cold start of the deployed origin-response code. The handler that
 * serverless.yml names is bundled exactly as `sls package` bundles it (esbuild.config.cjs's options,
 * with a bench configuration baked in), then each fresh `node` process loads
 * the bundle and answers CloudFront origin-response events for misses, its
 * S3 calls going to the bench's s3rver (AWS_ENDPOINT_URL_S3). Cold = from
 * process start to the first response; warm = the next misses in that process.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { derivativeKey } from '../../src/core/keys.js';
import type { CloudFrontResponseEvent } from '../../src/edge/cloudfront.js';
import type { BenchContext, BenchRow } from '../lib/context.js';
import { variantOf } from '../lib/fixtures.js';
import { serverTiming } from '../lib/http.js';
import { figure, type RowResult } from '../lib/report.js';
import { type SsmServer, startSsmServer } from '../lib/ssm-server.js';
import { bytes, median, ms, round } from '../lib/stats.js';
import { type ZipSize, zipSize } from '../lib/zip-size.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('../cold-start-child.cjs', import.meta.url));
/** Lambda@Edge: origin-request and origin-response functions may be 50 MB zipped. */
const EDGE_ZIP_LIMIT = 50 * 1024 * 1024;
/** What serverless-esbuild's packager installs beside the bundle for the external `sharp` (linux-x64, glibc). */
const SHARP_PAYLOAD = [
  'node_modules/sharp/package.json',
  'node_modules/sharp/lib',
  'node_modules/@img/colour',
  'node_modules/detect-libc',
  'node_modules/semver',
  'node_modules/@img/sharp-linux-x64',
  'node_modules/@img/sharp-libvips-linux-x64',
];

/** The esbuild options esbuild.config.cjs may set that the bench passes on. */
const ESBUILD_OPTIONS = new Set([
  'bundle',
  'platform',
  'target',
  'format',
  'minify',
  'minifyWhitespace',
  'minifyIdentifiers',
  'minifySyntax',
  'keepNames',
  'treeShaking',
  'external',
  'define',
  'mainFields',
  'conditions',
  'alias',
  'loader',
  'resolveExtensions',
  'legalComments',
  'banner',
  'footer',
  'inject',
  'drop',
  'pure',
  'charset',
  'supported',
]);

interface ChildReport {
  bootMs: number;
  sharpMs: number;
  importMs: number;
  invocations: { ms: number; doneAtMs: number; status: number; timing: string }[];
}

const SSM_PARAMETER = '/edge-resizer/bench/master-key';

interface Setup {
  bundles: { inline: string; ssm: string };
  dir: string;
  ssm: SsmServer;
  bundleZip: ZipSize;
  requestZip: ZipSize;
  sharpZip: ZipSize;
}

type Shape = 'ssm' | 'inline';

export function coldStartRow(ctx: BenchContext): BenchRow {
  let setup: Setup | undefined;
  let nextWidth = 300;
  return {
    ids: [7],
    async run(roundIndex) {
      if (!setup) {
        const dir = join(ctx.tmp, 'bundle');
        await mkdir(dir, { recursive: true });
        const bundles = { inline: join(dir, 'origin-response.js'), ssm: join(dir, 'origin-response-ssm.js') };
        const inlineKey = { type: 'inline', keyHex: ctx.cdnInfo.masterKeyHex };
        const ssmKey = { type: 'ssm', parameterName: SSM_PARAMETER, region: 'us-east-1' };
        const entries = await deployedEntries();
        await bundleHandler(ctx, entries.originResponse, bundles.inline, inlineKey);
        await bundleHandler(ctx, entries.originResponse, bundles.ssm, ssmKey);
        await bundleHandler(ctx, entries.originRequest, join(dir, 'origin-request.js'), ssmKey);
        setup = {
          bundles,
          dir,
          ssm: await startSsmServer({ [SSM_PARAMETER]: ctx.cdnInfo.masterKeyHex }),
          // The deployed shape's bundle is the one measured.
          bundleZip: await zipSize(dir, [bundles.ssm]),
          requestZip: await zipSize(dir, [join(dir, 'origin-request.js')]),
          sharpZip: await zipSize(
            ROOT,
            SHARP_PAYLOAD.map((path) => join(ROOT, path)),
          ),
        };
      }
      const current = setup;
      return coldStartRound(ctx, roundIndex, current, () => nextWidth++);
    },
    async close() {
      await setup?.ssm.close();
    },
  };
}

async function coldStartRound(
  ctx: BenchContext,
  roundIndex: number,
  setup: Setup,
  width: () => number,
): Promise<RowResult> {
  const perShape = ctx.quick ? 1 : 3;
  const warm = ctx.quick ? 2 : 3;
  ctx.progress(
    `row 7 (round ${roundIndex + 1}): ${2 * perShape} fresh processes (SSM key / inline key) × (1 cold + ${warm} warm) misses`,
  );
  const reports: Record<Shape, ChildReport[]> = { ssm: [], inline: [] };
  for (let p = 0; p < perShape; p += 1) {
    for (const shape of (p + roundIndex) % 2 === 0 ? (['ssm', 'inline'] as const) : (['inline', 'ssm'] as const)) {
      // Every invocation a miss: the photo at a width no one asked for yet.
      const events = Array.from({ length: warm + 1 }, () =>
        missEvent(ctx.inputs.photo2560.key, `width=${width()}&format=webp&quality=80`),
      );
      const eventsFile = join(setup.dir, `events-${shape}-${p}.json`);
      await writeFile(eventsFile, JSON.stringify(events));
      const readsBefore = setup.ssm.reads();
      const { stdout } = await run(process.execPath, [CHILD, setup.bundles[shape], eventsFile], {
        cwd: setup.dir,
        env: {
          PATH: process.env.PATH,
          // The bundle requires `sharp` (external), as the deployed zip holds it beside the bundle.
          NODE_PATH: join(ROOT, 'node_modules'),
          AWS_ENDPOINT_URL_S3: ctx.cdnInfo.s3Endpoint,
          AWS_ENDPOINT_URL_SSM: setup.ssm.endpoint,
          // Lambda's environment credentials: the ones s3rver knows; the loopback SSM checks their signature.
          AWS_ACCESS_KEY_ID: 'S3RVER',
          AWS_SECRET_ACCESS_KEY: 'S3RVER',
          AWS_SESSION_TOKEN: 'bench',
          AWS_REGION: 'us-east-1',
          AWS_EC2_METADATA_DISABLED: 'true',
        },
      });
      const report = JSON.parse(stdout) as ChildReport;
      for (const invocation of report.invocations) {
        if (invocation.status !== 200) throw new Error(`the bundled handler answered ${invocation.status}`);
      }
      const reads = setup.ssm.reads() - readsBefore;
      if (shape === 'ssm' && reads !== 1)
        throw new Error(`the SSM-shaped bundle read the key ${reads} times, not once`);
      reports[shape].push(report);
    }
  }

  const summarize = (list: ChildReport[]) => {
    const cold = median(list.map((report) => report.invocations[0]?.doneAtMs ?? Number.NaN));
    const warmMs = median(list.flatMap((report) => report.invocations.slice(1).map((invocation) => invocation.ms)));
    return {
      cold,
      warm: warmMs,
      coldInvoke: median(list.map((report) => report.invocations[0]?.ms ?? Number.NaN)),
      boot: median(list.map((report) => report.bootMs)),
      sharpLoad: median(list.map((report) => report.sharpMs)),
      load: median(list.map((report) => report.importMs)),
    };
  };
  const deployed = summarize(reports.ssm);
  const inline = summarize(reports.inline);
  const phases = (pick: (report: ChildReport) => ChildReport['invocations']) => {
    const parsed = reports.ssm.flatMap((report) => pick(report).map((invocation) => serverTiming(invocation.timing)));
    return Object.fromEntries(
      ['fetch', 'decrypt', 'transform', 'store'].map((name) => [
        name,
        round(median(parsed.map((timing) => timing[name] ?? Number.NaN))),
      ]),
    );
  };
  const coldPhases = phases((report) => report.invocations.slice(0, 1));
  const warmPhases = phases((report) => report.invocations.slice(1));
  const phaseText = (figures: Record<string, number>) =>
    Object.entries(figures)
      .map(([name, value]) => `${name} ${value}`)
      .join(', ');
  const { bundleZip, requestZip, sharpZip } = setup;
  const total = bundleZip.zipped + sharpZip.zipped;
  const plain = (v: number) => `${v.toFixed(0)} ms`;
  return {
    id: 7,
    title: 'Cold start of the bundled origin-response handler (fresh node process, S3 = s3rver, SSM = loopback)',
    lines: [
      figure('deployed shape (key from SSM): first response from process start', deployed.cold, ms, {
        peerName: 'warm',
        peerValue: deployed.warm,
        target: '≤ 2.00×',
        check: (r) => r <= 2,
      }),
      figure('  node boot', deployed.boot, plain),
      figure('  sharp load', deployed.sharpLoad, plain),
      figure('  bundle load', deployed.load, plain),
      figure('  first miss (incl. the SSM read)', deployed.coldInvoke, plain, {
        peerName: 'warm',
        peerValue: deployed.warm,
      }),
      figure('key inline (no SSM): first response from process start', inline.cold, ms, {
        peerName: 'warm',
        peerValue: inline.warm,
      }),
      figure('  first miss', inline.coldInvoke, plain, { peerName: 'warm', peerValue: inline.warm }),
      {
        measure: 'origin-response bundle (minified)',
        ours: bytes(bundleZip.uncompressed),
        peer: `zip ${bytes(bundleZip.zipped)}`,
      },
      {
        measure: 'origin-request bundle (minified)',
        ours: bytes(requestZip.uncompressed),
        peer: `zip ${bytes(requestZip.zipped)}`,
      },
      {
        measure: 'origin-response zip incl. sharp + libvips (linux-x64)',
        ours: bytes(total),
        peer: 'limit 50 MiB',
        ratio: total / EDGE_ZIP_LIMIT,
        target: '≤ 1.00×',
        pass: total <= EDGE_ZIP_LIMIT,
      },
    ],
    notes: [
      `Bundled with esbuild.config.cjs's options (cjs, node20, minify, sharp external); per round ${perShape} processes of each ` +
        'shape, alternating, medians. Deployed shape: the master key baked as an SSM parameter name, read with one SigV4-signed ' +
        "request (no SDK client) from a loopback server speaking SSM's JSON protocol and checking the signature " +
        '(AWS_ENDPOINT_URL_SSM; one GetParameter per process, checked). ' +
        `Server-Timing of its first miss (ms): ${phaseText(coldPhases)}; of warm misses: ${phaseText(warmPhases)}. ` +
        'Lambda adds its own init, and a real SSM read costs a network round trip that loopback does not.',
    ],
    data: {
      processesPerShape: perShape,
      warmPerProcess: warm,
      deployed: Object.fromEntries(Object.entries(deployed).map(([k, v]) => [k, round(v)])),
      inline: Object.fromEntries(Object.entries(inline).map(([k, v]) => [k, round(v)])),
      coldServerTimingMs: coldPhases,
      warmServerTimingMs: warmPhases,
      ratio: round(deployed.cold / deployed.warm, 3),
      originResponseBundleBytes: bundleZip.uncompressed,
      originResponseZipBytes: bundleZip.zipped,
      originRequestBundleBytes: requestZip.uncompressed,
      originRequestZipBytes: requestZip.zipped,
      sharpPayloadZipBytes: sharpZip.zipped,
      sharpPayloadFiles: sharpZip.files,
      deployZipBytes: total,
    },
  };
}

/** The entry files serverless.yml deploys (`handler: src/entry/origin-response.handler`), whatever they are today. */
async function deployedEntries(): Promise<{ originResponse: string; originRequest: string }> {
  const yml = await readFile(join(ROOT, 'serverless.yml'), 'utf8');
  const handlers = [...yml.matchAll(/^\s*handler:\s*(\S+)\.handler\s*$/gm)].map((match) => `${match[1]}.ts`);
  const pick = (name: string) => {
    const found = handlers.find((path) => path.endsWith(`/${name}.ts`));
    if (!found) throw new Error(`serverless.yml names no ${name} handler`);
    return found;
  };
  return { originResponse: pick('origin-response'), originRequest: pick('origin-request') };
}

/** esbuild with the options `sls package` uses (esbuild.config.cjs), the bench's configuration baked in. */
async function bundleHandler(ctx: BenchContext, entry: string, outfile: string, masterKey: Record<string, string>) {
  const require = createRequire(import.meta.url);
  const slsConfig = require(join(ROOT, 'esbuild.config.cjs')) as (serverless: unknown) => Record<string, unknown>;
  const edgeConfig = {
    stage: 'bench',
    region: 'us-east-1',
    originalsBucket: ctx.cdnInfo.originalsBucket,
    derivativesBucket: ctx.cdnInfo.derivativesBucket,
    masterKey,
  };
  const options = slsConfig({ service: { provider: { region: 'us-east-1', stage: 'bench' }, custom: { edgeConfig } } });
  // esbuild's own options from the deploy config (the rest are serverless-esbuild's: packager, exclude…).
  const esbuildOptions = Object.fromEntries(Object.entries(options).filter(([name]) => ESBUILD_OPTIONS.has(name)));
  await build({ ...esbuildOptions, entryPoints: [join(ROOT, entry)], outfile, sourcemap: false, logLevel: 'silent' });
  await stat(outfile);
}

/** An origin-response event for a miss: S3 answered 403/404 for the derivative the origin-request named. */
function missEvent(key: string, query: string): CloudFrontResponseEvent {
  const uri = `/${derivativeKey(key, variantOf(query))}`;
  return {
    Records: [
      {
        cf: {
          config: {
            distributionDomainName: 'd111111abcdef8.cloudfront.net',
            distributionId: 'EDFDVBD6EXAMPLE',
            eventType: 'origin-response',
            requestId: '4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==',
          },
          request: {
            clientIp: '203.0.113.178',
            method: 'GET',
            uri,
            querystring: query,
            headers: {
              host: [{ key: 'Host', value: 'edge-resizer-derivatives.s3.us-east-1.amazonaws.com' }],
              accept: [{ key: 'Accept', value: 'image/webp' }],
              'x-resizer-location': [{ key: 'X-Resizer-Location', value: `/${key}?${query}` }],
            },
          },
          response: { status: '403', statusDescription: 'Forbidden', headers: {} },
        },
      },
    ],
  };
}
