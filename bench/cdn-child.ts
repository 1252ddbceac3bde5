/**
 * Bench child: the local CDN under test (what `npm start` runs, its s3rver and
 * dynalite in bench/storage-child.ts), plus what the
 * bench needs beside it in the same process — the "buffered" originals handler
 * of the streaming articles, the bare transform for the ratio of row 1, and an
 * RSS sampler. Driven over IPC by bench/lib/child.ts.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type IntervalHistogram, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { OBJECT_META, VERSIONS_PREFIX } from '../src/api/uploads.js';
import { createConfig } from '../src/core/config.js';
import { createEncryptStream, decryptBuffer, parseMasterKey } from '../src/core/envelope.js';
import type { Variant } from '../src/core/params.js';
import { inspectImage, transformImage } from '../src/core/transform.js';
import { type LocalServer, startLocalServer } from '../src/local/server.js';
import { createS3Client, LOCAL_CREDENTIALS } from '../src/storage/clients.js';
import { createS3Store, type S3Store } from '../src/storage/s3-store.js';
import { serveChild } from './lib/child.js';
import { raw404, rawDecrypt, rawGet, rawList, rawPut, rawS3Client } from './lib/raw.js';
import { runQueueMs } from './lib/schedstat.js';

export interface CdnInfo {
  url: string;
  apiToken: string;
  bufferedUrl: string;
  s3Endpoint: string;
  masterKeyHex: string;
  originalsBucket: string;
  derivativesBucket: string;
  pid: number;
}

export interface BareArgs {
  file: string;
  variant: Variant;
}

/** One pass over the limit of a miss (row 1): each piece of unavoidable work, in ms, done in series. */
export interface LimitSample {
  transform: number;
  get: number;
  decrypt: number;
  put: number;
  notFound: number;
  total: number;
  outputBytes: number;
  originalBytes: number;
}

/** CPU time this process used (ms) and its GC pauses, between `loadStart` and `loadStop`. */
export interface LoadReport {
  cpuMs: number;
  wallMs: number;
  gcCount: number;
  gcTotalMs: number;
  gcMaxMs: number;
  /** How long the main thread waited for a CPU while runnable (bench/lib/schedstat.ts); NaN off Linux. */
  runQueueMs: number;
  /** The event loop's lateness (perf_hooks, 1 ms resolution): p99 and max, ms. A stall delays every hit it overlaps. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

export interface RssReport {
  baseline: number;
  max: number;
  /** Off-heap memory (Buffers, ArrayBuffers: `memoryUsage().external`): growth here is buffering, whatever RSS's high-water mark. */
  externalBaseline: number;
  externalMax: number;
  samples: number;
}

const config = createConfig();
let local: LocalServer | undefined;
let buffered: Server | undefined;
let store: S3Store | undefined;
let masterKey: Buffer | undefined;
const plaintexts = new Map<string, Buffer>();
let raw: S3Client | undefined;
let s3Endpoint = '';
let limitCount = 0;
let load:
  | {
      cpu: NodeJS.CpuUsage;
      start: number;
      gc: number[];
      observer: PerformanceObserver;
      loopDelay: IntervalHistogram;
      runQueue: number;
    }
  | undefined;
let sampler:
  | { timer: NodeJS.Timeout; baseline: number; max: number; external: number; externalMax: number; samples: number }
  | undefined;

serveChild({
  async start(args: { dataDir: string; s3Endpoint: string; dynamoEndpoint: string }): Promise<CdnInfo> {
    s3Endpoint = args.s3Endpoint;
    local = await startLocalServer({
      dataDir: args.dataDir,
      port: 0,
      logLevel: 'silent',
      seedSamples: false,
      s3Endpoint: args.s3Endpoint,
      dynamoEndpoint: args.dynamoEndpoint,
    });
    masterKey = parseMasterKey(await readFile(join(args.dataDir, 'master.key')));
    const client = createS3Client({
      region: config.region,
      credentials: LOCAL_CREDENTIALS,
      endpoint: args.s3Endpoint,
      ...config.storage,
    });
    store = createS3Store({
      client,
      originalsBucket: config.originalsBucket,
      derivativesBucket: config.derivativesBucket,
    });
    buffered = await listen(bufferedHandler(store, masterKey));
    return {
      url: local.url,
      apiToken: local.apiToken,
      bufferedUrl: `http://127.0.0.1:${(buffered.address() as AddressInfo).port}`,
      s3Endpoint: args.s3Endpoint,
      masterKeyHex: masterKey.toString('hex'),
      originalsBucket: config.originalsBucket,
      derivativesBucket: config.derivativesBucket,
      pid: process.pid,
    };
  },

  /** One inspect + transform of a file's bytes, as the origin-response handler does after decrypting. */
  async bare(args: BareArgs): Promise<number> {
    const plaintext = await plaintextOf(args.file);
    const start = performance.now();
    const info = await inspectImage(plaintext, config);
    await transformImage(plaintext, args.variant, config, info);
    return performance.now() - start;
  },

  /**
   * `count` bare transforms of one file with at most `concurrency` at once, as
   * parallel misses would run them in this process: elapsed ms for the lot.
   */
  async bareBatch(args: BareArgs & { count: number; concurrency: number }): Promise<number> {
    const plaintext = await plaintextOf(args.file);
    let next = 0;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: args.concurrency }, async () => {
        while (next < args.count) {
          next += 1;
          const info = await inspectImage(plaintext, config);
          await transformImage(plaintext, args.variant, config, info);
        }
      }),
    );
    return performance.now() - start;
  },

  /**
   * The limit of one miss, in series: the bare transform of the plaintext, a raw
   * GetObject of the encrypted original the miss reads, its decryption, a raw
   * PutObject of the derivative's bytes and a GetObject answering 404.
   */
  async limit(args: BareArgs & { objectKey: string }): Promise<LimitSample> {
    if (!masterKey) throw new Error('start first');
    raw ??= rawS3Client(s3Endpoint);
    const plaintext = await plaintextOf(args.file);
    const n = limitCount++;
    let start = performance.now();
    const info = await inspectImage(plaintext, config);
    const output = await transformImage(plaintext, args.variant, config, info);
    const transform = performance.now() - start;
    start = performance.now();
    const original = await rawGet(raw, config.originalsBucket, args.objectKey);
    const get = performance.now() - start;
    start = performance.now();
    const decrypted = rawDecrypt(original.body, original.metadata, masterKey);
    const decrypt = performance.now() - start;
    if (decrypted.length !== plaintext.length) throw new Error(`${args.objectKey} is not ${args.file}`);
    start = performance.now();
    await rawPut(raw, config.derivativesBucket, `bench-limit/${n}/out`, output.data, output.contentType);
    const put = performance.now() - start;
    start = performance.now();
    await raw404(raw, config.derivativesBucket, `bench-limit/${n}/absent`);
    const notFound = performance.now() - start;
    return {
      transform,
      get,
      decrypt,
      put,
      notFound,
      total: transform + get + decrypt + put + notFound,
      outputBytes: output.data.length,
      originalBytes: original.body.length,
    };
  },

  /** The originals bucket's object that holds `key`'s current bytes (whatever the storage layout names it). */
  async originalObjectKey(args: { key: string; bytes: number }): Promise<string> {
    raw ??= rawS3Client(s3Endpoint);
    const name = args.key;
    // The plaintext plus the GCM tag: the encrypted copy of these bytes, not another version's.
    const sized = (await rawList(raw, config.originalsBucket))
      .filter((item) => item.size === args.bytes + 16)
      .map((item) => item.key)
      .filter((key) => key === name || key.includes(`${name}/`) || key.endsWith(`/${name}`));
    const found = sized.includes(name) ? name : sized.sort().at(-1);
    if (!found) throw new Error(`no stored object of ${args.bytes + 16} bytes for ${args.key}`);
    return found;
  },

  /** What sharp and libuv run with in this process (the server's). */
  sharpInfo() {
    return {
      concurrency: sharp.concurrency(),
      uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
      simd: sharp.simd(),
    };
  },

  /** Starts counting this process's CPU time and GC pauses. */
  loadStart() {
    const gc: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) gc.push(entry.duration);
    });
    observer.observe({ entryTypes: ['gc'] });
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    load = { cpu: process.cpuUsage(), start: performance.now(), gc, observer, loopDelay, runQueue: runQueueMs() };
  },

  loadStop(): LoadReport {
    if (!load) throw new Error('loadStart first');
    const cpu = process.cpuUsage(load.cpu);
    load.observer.disconnect();
    load.loopDelay.disable();
    const report = {
      cpuMs: (cpu.user + cpu.system) / 1000,
      wallMs: performance.now() - load.start,
      gcCount: load.gc.length,
      gcTotalMs: load.gc.reduce((a, b) => a + b, 0),
      gcMaxMs: Math.max(0, ...load.gc),
      runQueueMs: runQueueMs() - load.runQueue,
      loopDelayP99Ms: load.loopDelay.percentile(99) / 1e6,
      loopDelayMaxMs: load.loopDelay.max / 1e6,
    };
    load = undefined;
    return report;
  },

  gc() {
    globalThis.gc?.();
  },

  /** Starts sampling this process's RSS every 2 ms, after a full GC, from a fresh baseline. */
  rssStart() {
    globalThis.gc?.();
    const usage = process.memoryUsage();
    const state = {
      baseline: usage.rss,
      max: usage.rss,
      external: usage.external,
      externalMax: usage.external,
      samples: 0,
      timer: setInterval(() => sample(), 2),
    };
    const sample = () => {
      const now = process.memoryUsage();
      state.max = Math.max(state.max, now.rss);
      state.externalMax = Math.max(state.externalMax, now.external);
      state.samples += 1;
    };
    sampler = state;
  },

  rssStop(): RssReport {
    if (!sampler) throw new Error('rssStart first');
    clearInterval(sampler.timer);
    const report = {
      baseline: sampler.baseline,
      max: Math.max(sampler.max, process.memoryUsage.rss()),
      externalBaseline: sampler.external,
      externalMax: Math.max(sampler.externalMax, process.memoryUsage().external),
      samples: sampler.samples,
    };
    sampler = undefined;
    return report;
  },

  /**
   * Replaces the stored bytes of `key`'s only version with `bytes` random bytes,
   * encrypted as the API would. The API refuses originals over 50 MB,
   * so the 100 MB original of the streaming memory check is written
   * straight to the originals bucket, streamed, under a version the API made.
   */
  async bigOriginal(args: { key: string; bytes: number }) {
    if (!store || !masterKey) throw new Error('start first');
    let objectKey: string | undefined;
    for await (const page of store.listOriginals(`${VERSIONS_PREFIX}${args.key}/`)) objectKey ??= page[0];
    if (!objectKey) throw new Error(`no stored version of ${args.key}`);
    const { metadata, stream } = createEncryptStream(masterKey, args.bytes);
    const body = Readable.from(randomChunks(args.bytes)).pipe(stream);
    await store.putOriginal(objectKey, body, { ...metadata, [OBJECT_META]: objectKey }, args.bytes + 16);
    // `<key>` holds a copy of the latest version (the API's promotion): the buffered baseline reads that one.
    await store.copyOriginal(objectKey, args.key);
    globalThis.gc?.();
  },

  async close() {
    clearInterval(sampler?.timer);
    raw?.destroy();
    await new Promise<void>((resolve) => (buffered ? buffered.close(() => resolve()) : resolve()));
    buffered?.closeAllConnections();
    await local?.close();
  },
});

async function plaintextOf(file: string): Promise<Buffer> {
  let plaintext = plaintexts.get(file);
  if (!plaintext) {
    plaintext = await readFile(file);
    plaintexts.set(file, plaintext);
  }
  return plaintext;
}

/**
 * The buffered baseline of the streaming articles: read the whole object,
 * decrypt it whole, base64 it as a buffered Lambda returns binary, and only
 * then answer (the runtime decoding the base64 back to bytes).
 */
function bufferedHandler(s3: S3Store, key: Buffer) {
  return async (path: string) => {
    const original = await s3.getOriginal(decodeURIComponent(path.slice('/buffered/'.length)));
    if (!original) return undefined;
    const plaintext = decryptBuffer(original.body, original.metadata, key);
    return Buffer.from(plaintext.toString('base64'), 'base64');
  };
}

async function listen(handle: (path: string) => Promise<Buffer | undefined>): Promise<Server> {
  const server = createServer((req, res) => {
    handle(req.url ?? '/').then(
      (body) => {
        if (!body) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
        res.end(body);
      },
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return server;
}

/** Incompressible bytes in 1 MiB chunks, generated as they are read (constant memory). */
function* randomChunks(total: number): Generator<Buffer> {
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
  for (let sent = 0; sent < total; sent += chunk.length) {
    // A fresh view each time: the consumer may hold the previous chunk.
    yield Buffer.from(chunk.subarray(0, Math.min(chunk.length, total - sent)));
  }
}
