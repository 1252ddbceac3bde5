/**
 * Measures the origin-response miss path (fetch, decrypt, transform, store)
 * on three originals against an s3rver in this process: a 2560×1600 JPEG, a
 * 14.7 MP JPEG and a ~13 MB PNG of noise. Not a test: a before/after figure
 * for changes to the miss path. Each request is a real miss (its own width).
 *
 *   node --import tsx --openssl-legacy-provider scripts/measure-miss-path.ts [rounds]
 */
import sharp from 'sharp';
import { createLogger } from '../src/core/log.js';
import type { CloudFrontRequest, CloudFrontResultResponse } from '../src/edge/cloudfront.js';
import { createOriginRequestHandler } from '../src/edge/origin-request.js';
import { createOriginResponseHandler } from '../src/edge/origin-response.js';
import { originRequestEvent, originResponseEvent } from '../test/helpers/events.js';
import { fixture } from '../test/helpers/images.js';
import { putOriginal } from '../test/helpers/originals.js';
import { startTestStorage } from '../test/helpers/storage.js';

const rounds = Number(process.argv[2] ?? 7);

async function noisePng(): Promise<Buffer> {
  const width = 2200;
  const height = 2000;
  const pixels = Buffer.alloc(width * height * 3);
  let seed = 12345;
  for (let i = 0; i < pixels.length; i += 1) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    pixels[i] = seed >>> 24;
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

const storage = await startTestStorage();
const originals: [string, Buffer][] = [
  ['m/photo-2560.jpg', fixture('bench/seeding-2560x1600.jpg')],
  ['m/photo-14mp.jpg', fixture('bench/seeding-5120x2880.jpg')],
  ['m/noise-13mb.png', await noisePng()],
];
for (const [key, bytes] of originals) await putOriginal(storage, key, bytes);

const originRequest = createOriginRequestHandler(storage.config);
const originResponse = createOriginResponseHandler({
  config: storage.config,
  store: storage.store,
  masterKey: async () => storage.masterKey,
  logger: createLogger('error'),
});

console.log(`node ${process.version}, ${rounds} misses per original (first one dropped as warm-up)`);
console.log('original            bytes      total  fetch  decrypt  transform  store   (median ms)');
for (const [key, bytes] of originals) {
  const totals: number[] = [];
  const phases: Record<string, number[]> = {};
  for (let i = 0; i <= rounds; i += 1) {
    const request = (await originRequest(
      originRequestEvent({ uri: `/${key}`, querystring: `width=${400 + i}`, accept: 'image/webp' }),
    )) as CloudFrontRequest;
    const start = performance.now();
    const result = (await originResponse(originResponseEvent(request, 404))) as CloudFrontResultResponse;
    const total = performance.now() - start;
    if (result.status !== '200') throw new Error(`${key}: ${result.status} ${result.body}`);
    if (i === 0) continue;
    totals.push(total);
    for (const part of (result.headers?.['server-timing']?.[0]?.value ?? '').split(', ')) {
      const [name, dur] = part.split(';dur=');
      if (name && dur) phases[name] = [...(phases[name] ?? []), Number(dur)];
    }
  }
  const cell = (name: string, width: number) =>
    median(phases[name] ?? [])
      .toFixed(1)
      .padStart(width);
  console.log(
    `${key.padEnd(18)} ${String(bytes.length).padStart(9)} ${median(totals).toFixed(1).padStart(8)} ${cell('fetch', 6)} ${cell('decrypt', 8)} ${cell('transform', 10)} ${cell('store', 6)}`,
  );
}
// The hit path's cost of the stale check: a derivative found in storage that records a revision
// costs one HEAD of the original (older code passed it through without one).
const [hitKey] = originals[0] ?? [];
const hitRequest = (await originRequest(
  originRequestEvent({ uri: `/${hitKey}`, querystring: 'width=400', accept: 'image/webp' }),
)) as CloudFrontRequest;
const revision = (await storage.store.getDerivative(hitRequest.uri.slice(1)))?.metadata['resizer-source'];
const hits: number[] = [];
for (let i = 0; i < 30; i += 1) {
  const event = originResponseEvent(hitRequest, 200, revision ? { 'x-amz-meta-resizer-source': revision } : {});
  const start = performance.now();
  const result = await originResponse(event);
  hits.push(performance.now() - start);
  if (result.status !== '200') throw new Error(`hit: ${result.status}`);
}
console.log(
  `hit from the derivatives bucket: median ${median(hits).toFixed(2)} ms in the trigger${revision ? ' (with the HEAD)' : ''}`,
);
await storage.close();
