/**
 * Bench child: the local CDN under test (what `npm start` runs), plus what the
 * bench needs beside it in the same process — the "buffered" originals handler
 * of the streaming articles, the bare transform for the ratio of row 1, and an
 * RSS sampler. Driven over IPC by bench/lib/child.ts.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { OBJECT_META, VERSIONS_PREFIX } from '../src/api/uploads.js';
import { createConfig } from '../src/core/config.js';
import { createEncryptStream, decryptBuffer, parseMasterKey } from '../src/core/envelope.js';
import type { Variant } from '../src/core/params.js';
import { inspectImage, transformImage } from '../src/core/transform.js';
import { type EmbeddedServer, startDynalite, startS3rver } from '../src/local/embedded-servers.js';
import { type LocalServer, startLocalServer } from '../src/local/server.js';
import { createS3Client, LOCAL_CREDENTIALS } from '../src/storage/clients.js';
import { createS3Store, type S3Store } from '../src/storage/s3-store.js';
import { serveChild } from './lib/child.js';

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

export interface RssReport {
  baseline: number;
  max: number;
  samples: number;
}

const config = createConfig();
let local: LocalServer | undefined;
let buffered: Server | undefined;
const embedded: EmbeddedServer[] = [];
let store: S3Store | undefined;
let masterKey: Buffer | undefined;
const plaintexts = new Map<string, Buffer>();
let sampler: { timer: NodeJS.Timeout; baseline: number; max: number; samples: number } | undefined;

serveChild({
  async start(args: { dataDir: string }): Promise<CdnInfo> {
    const s3 = await startS3rver({
      directory: join(args.dataDir, 's3'),
      buckets: [config.originalsBucket, config.derivativesBucket],
    });
    embedded.push(s3);
    const dynamo = await startDynalite({ directory: join(args.dataDir, 'dynamodb') });
    embedded.push(dynamo);
    local = await startLocalServer({
      dataDir: args.dataDir,
      port: 0,
      logLevel: 'silent',
      seedSamples: false,
      s3Endpoint: s3.endpoint,
      dynamoEndpoint: dynamo.endpoint,
    });
    masterKey = parseMasterKey(await readFile(join(args.dataDir, 'master.key')));
    const client = createS3Client({
      region: config.region,
      credentials: LOCAL_CREDENTIALS,
      endpoint: s3.endpoint,
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
      s3Endpoint: s3.endpoint,
      masterKeyHex: masterKey.toString('hex'),
      originalsBucket: config.originalsBucket,
      derivativesBucket: config.derivativesBucket,
      pid: process.pid,
    };
  },

  /** One inspect + transform of a file's bytes, as the origin-response handler does after decrypting. */
  async bare(args: BareArgs): Promise<number> {
    let plaintext = plaintexts.get(args.file);
    if (!plaintext) {
      plaintext = await readFile(args.file);
      plaintexts.set(args.file, plaintext);
    }
    const start = performance.now();
    const info = await inspectImage(plaintext, config);
    await transformImage(plaintext, args.variant, config, info);
    return performance.now() - start;
  },

  gc() {
    globalThis.gc?.();
  },

  /** Starts sampling this process's RSS every 2 ms, after a full GC, from a fresh baseline. */
  rssStart() {
    globalThis.gc?.();
    const baseline = process.memoryUsage.rss();
    const state = { baseline, max: baseline, samples: 0, timer: setInterval(() => sample(), 2) };
    const sample = () => {
      state.max = Math.max(state.max, process.memoryUsage.rss());
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
      samples: sampler.samples,
    };
    sampler = undefined;
    return report;
  },

  /**
   * Replaces the stored bytes of `key`'s only version with `bytes` random bytes,
   * encrypted as the API would. The API refuses originals over 50 MB
   * (CONTRACT.md §4), so the 100 MB original of §8's memory check is written
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
    await new Promise<void>((resolve) => (buffered ? buffered.close(() => resolve()) : resolve()));
    buffered?.closeAllConnections();
    await local?.close();
    for (const server of embedded.reverse()) await server.close();
  },
});

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
