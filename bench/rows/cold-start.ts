/**
 * Row 7: cold start of the deployed origin-response code. The handler is
 * bundled exactly as `sls package` bundles it (esbuild.config.cjs's options,
 * with a bench configuration baked in), then each fresh `node` process loads
 * the bundle and answers CloudFront origin-response events for misses, its
 * S3 calls going to the bench's s3rver (AWS_ENDPOINT_URL_S3). Cold = from
 * process start to the first response; warm = the next misses in that process.
 */
import { execFile } from 'node:child_process';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { derivativeKey } from '../../src/core/keys.js';
import type { CloudFrontResponseEvent } from '../../src/edge/cloudfront.js';
import type { BenchContext } from '../lib/context.js';
import { variantOf } from '../lib/fixtures.js';
import { serverTiming } from '../lib/http.js';
import type { RowResult } from '../lib/report.js';
import { bytes, median, ms, round } from '../lib/stats.js';
import { zipSize } from '../lib/zip-size.js';

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

export async function coldStartRow(ctx: BenchContext): Promise<RowResult> {
  const processes = ctx.quick ? 2 : 5;
  const warm = ctx.quick ? 3 : 5;
  ctx.progress(`row 7: bundle origin-response, ${processes} fresh processes × (1 cold + ${warm} warm) misses`);
  const dir = join(ctx.tmp, 'bundle');
  await mkdir(dir, { recursive: true });
  const bundle = join(dir, 'origin-response.js');
  await bundleHandler(ctx, 'src/edge/origin-response.ts', bundle);
  await bundleHandler(ctx, 'src/edge/origin-request.ts', join(dir, 'origin-request.js'));
  const bundleZip = await zipSize(dir, [bundle]);
  const requestZip = await zipSize(dir, [join(dir, 'origin-request.js')]);
  const sharpZip = await zipSize(
    ROOT,
    SHARP_PAYLOAD.map((path) => join(ROOT, path)),
  );

  const reports: ChildReport[] = [];
  for (let p = 0; p < processes; p += 1) {
    // Every invocation a miss: a pool key at a width no one asked for yet.
    const events = Array.from({ length: warm + 1 }, (_, i) =>
      missEvent(ctx.pool[i % ctx.pool.length] as string, `width=${300 + p}&format=webp&quality=80`),
    );
    const eventsFile = join(dir, `events-${p}.json`);
    await writeFile(eventsFile, JSON.stringify(events));
    const { stdout } = await run(process.execPath, [CHILD, bundle, eventsFile], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        // The bundle requires `sharp` (external), as the deployed zip holds it beside the bundle.
        NODE_PATH: join(ROOT, 'node_modules'),
        AWS_ENDPOINT_URL_S3: ctx.cdnInfo.s3Endpoint,
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    });
    const report = JSON.parse(stdout) as ChildReport;
    for (const invocation of report.invocations) {
      if (invocation.status !== 200) throw new Error(`the bundled handler answered ${invocation.status}`);
    }
    reports.push(report);
  }

  const cold = reports.map((report) => report.invocations[0]?.doneAtMs ?? Number.NaN);
  const coldInvoke = reports.map((report) => report.invocations[0]?.ms ?? Number.NaN);
  const warmMs = reports.flatMap((report) => report.invocations.slice(1).map((invocation) => invocation.ms));
  const boot = median(reports.map((report) => report.bootMs));
  const sharpLoad = median(reports.map((report) => report.sharpMs));
  const load = median(reports.map((report) => report.importMs));
  const value = median(cold) / median(warmMs);
  const phases = (pick: (report: ChildReport) => ChildReport['invocations']) => {
    const parsed = reports.flatMap((report) => pick(report).map((invocation) => serverTiming(invocation.timing)));
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
  const total = bundleZip.zipped + sharpZip.zipped;
  return {
    id: 7,
    title: 'Cold start of the bundled origin-response handler (fresh node process, S3 = s3rver)',
    lines: [
      {
        measure: 'first response from process start',
        ours: ms(median(cold)),
        peer: `warm ${ms(median(warmMs))}`,
        ratio: value,
        target: '≤ 2.00×',
        pass: value <= 2,
      },
      {
        measure: '  node boot / sharp load / bundle load / first miss',
        ours: `${boot.toFixed(0)} / ${sharpLoad.toFixed(0)} / ${load.toFixed(0)} / ${median(coldInvoke).toFixed(0)} ms`,
      },
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
      `Bundled with esbuild.config.cjs's options (cjs, node20, minify, sharp external); ${processes} processes, medians. ` +
        `Server-Timing of the first miss (ms): ${phaseText(coldPhases)}; of warm misses: ${phaseText(warmPhases)}. ` +
        'Deployed, a cold start also reads the master key from SSM once (here it is baked inline), and Lambda adds its own init.',
    ],
    data: {
      processes,
      warmPerProcess: warm,
      coldFirstResponseMs: round(median(cold)),
      bootMs: round(boot),
      sharpLoadMs: round(sharpLoad),
      bundleLoadMs: round(load),
      coldInvokeMs: round(median(coldInvoke)),
      coldServerTimingMs: coldPhases,
      warmServerTimingMs: warmPhases,
      warmMs: round(median(warmMs)),
      ratio: round(value, 3),
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

/** esbuild with the options `sls package` uses (esbuild.config.cjs), the bench's configuration baked in. */
async function bundleHandler(ctx: BenchContext, entry: string, outfile: string) {
  const require = createRequire(import.meta.url);
  const slsConfig = require(join(ROOT, 'esbuild.config.cjs')) as (serverless: unknown) => Record<string, unknown>;
  const edgeConfig = {
    stage: 'bench',
    region: 'us-east-1',
    originalsBucket: ctx.cdnInfo.originalsBucket,
    derivativesBucket: ctx.cdnInfo.derivativesBucket,
    masterKey: { type: 'inline', keyHex: ctx.cdnInfo.masterKeyHex },
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
