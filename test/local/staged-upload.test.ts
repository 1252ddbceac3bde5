/**
 * Staged multipart uploads through the local CDN:
 * `POST /api/uploads` → PUT each part to its URL (the CDN's `/_local/s3` door
 * to the embedded s3rver) → `complete`, against real s3rver and dynalite.
 * The 45 MB original runs through `edge-resizer serve` in its own process so
 * that its RSS, read from /proc/<pid>/status, is the server's alone.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';
import { type ServeProcess, startServe } from '../helpers/cli.js';
import { rssOf, serverPid } from '../helpers/proc.js';

const MB = 1024 * 1024;
const STAGING_BUCKET = 'edge-resizer-staging';

/** A PNG of noise (it does not compress) of about `megabytes` MB. */
async function noisePng(megabytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const side = Math.round(Math.sqrt((megabytes * MB) / 3));
  const png = await sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
  return new Uint8Array(png);
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface Created {
  uploadId: string;
  key: string;
  partSize: number;
  parts: { partNumber: number; url: string }[];
}

async function call(base: string, token: string, method: string, path: string, body?: unknown) {
  return fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function create(base: string, token: string, key: string, bytes: number): Promise<Created> {
  const response = await call(base, token, 'POST', '/api/uploads', { key, bytes });
  expect(response.status, await response.clone().text()).to.equal(201);
  return (await response.json()) as Created;
}

/** PUTs every part, four at a time; returns the parts list `complete` takes. */
async function putParts(created: Created, bytes: Uint8Array<ArrayBuffer>) {
  const etags: { partNumber: number; etag: string }[] = [];
  const queue = [...created.parts];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let part = queue.shift(); part; part = queue.shift()) {
        const start = (part.partNumber - 1) * created.partSize;
        const response = await fetch(part.url, {
          method: 'PUT',
          body: bytes.slice(start, Math.min(bytes.length, start + created.partSize)),
        });
        expect(response.status, await response.clone().text()).to.equal(200);
        const etag = response.headers.get('etag');
        expect(etag).to.be.a('string');
        etags.push({ partNumber: part.partNumber, etag: etag as string });
      }
    }),
  );
  return etags.sort((a, b) => a.partNumber - b.partNumber);
}

/**
 * Files left in s3rver's directory of the staging bucket (staged objects and
 * pending parts alike), but for the claims of finished uploads (a word each).
 */
async function stagingFiles(dataDir: string): Promise<string[]> {
  const bucket = join(dataDir, 's3', STAGING_BUCKET);
  const entries = await readdir(bucket, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile() && !relative(bucket, entry.parentPath).startsWith('claims'))
    .map((entry) => entry.name);
}

async function originalBack(base: string, token: string, key: string) {
  const info = await call(base, token, 'GET', `/api/images/${key}`);
  expect(info.status).to.equal(200);
  const item = (await info.json()) as { originalUrl: string; bytes: number; versions: { sha256: string }[] };
  const original = await fetch(`${base}${item.originalUrl}`);
  expect(original.status).to.equal(200);
  return { item, bytes: new Uint8Array(await original.arrayBuffer()) };
}

describe('staged multipart uploads through the local CDN', function () {
  this.timeout(180_000);
  let dataDir: string;
  let server: LocalServer;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'edge-resizer-staged-'));
    server = await startLocalServer({ dataDir, port: 0, seedSamples: false, log: () => {} });
  });
  after(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a 13 MB original: part URLs on the CDN, 201, the same sha256 back through /originals, nothing staged after', async () => {
    const png = await noisePng(13);
    const created = await create(server.url, server.apiToken, 'staged/noise-13.png', png.length);
    expect(created.parts.length)
      .to.equal(Math.ceil(png.length / created.partSize))
      .and.be.above(1);
    for (const part of created.parts) expect(part.url.startsWith(`${server.url}/_local/s3/`)).to.equal(true);
    const parts = await putParts(created, png);
    const done = await call(server.url, server.apiToken, 'POST', `/api/uploads/${created.uploadId}/complete`, {
      parts,
    });
    expect(done.status, await done.clone().text()).to.equal(201);
    expect(await done.json()).to.include({ key: 'staged/noise-13.png', bytes: png.length, contentType: 'image/png' });
    const back = await originalBack(server.url, server.apiToken, 'staged/noise-13.png');
    expect(sha256(back.bytes)).to.equal(sha256(png));
    expect(back.item.versions[0]?.sha256).to.equal(sha256(png));
    expect(await stagingFiles(dataDir)).to.deep.equal([]);
    // The derivative renders from it.
    const derivative = await fetch(`${server.url}/staged/noise-13.png?width=200&format=png`);
    expect(derivative.status).to.equal(200);
    expect((await sharp(new Uint8Array(await derivative.arrayBuffer())).metadata()).width).to.equal(200);
  });

  it('a bad image through the staged path: 415 on complete, nothing stored, the staged object gone', async () => {
    const bytes = new Uint8Array(randomBytes(6 * MB));
    const created = await create(server.url, server.apiToken, 'staged/bad.png', bytes.length);
    const parts = await putParts(created, bytes);
    const done = await call(server.url, server.apiToken, 'POST', `/api/uploads/${created.uploadId}/complete`, {
      parts,
    });
    expect(done.status).to.equal(415);
    expect(await done.json()).to.include({ code: 'unsupported_format' });
    expect((await call(server.url, server.apiToken, 'GET', '/api/images/staged/bad.png')).status).to.equal(404);
    expect(await readdir(join(dataDir, 's3', server.config.originalsBucket, 'staged')).catch(() => [])).to.not.include(
      'bad.png',
    );
    expect(await stagingFiles(dataDir)).to.deep.equal([]);
  });

  it('an aborted upload leaves nothing, and its part URLs stop working', async () => {
    const png = await noisePng(9);
    const created = await create(server.url, server.apiToken, 'staged/aborted.png', png.length);
    const [first] = await putParts({ ...created, parts: created.parts.slice(0, 1) }, png);
    expect(first?.etag).to.be.a('string');
    expect(await stagingFiles(dataDir)).to.not.deep.equal([]);
    const aborted = await call(server.url, server.apiToken, 'DELETE', `/api/uploads/${created.uploadId}`);
    expect(aborted.status).to.equal(204);
    expect(await stagingFiles(dataDir)).to.deep.equal([]);
    expect((await call(server.url, server.apiToken, 'GET', '/api/images/staged/aborted.png')).status).to.equal(404);
    // The part as issued (its signed size), after the abort.
    const late = await fetch(created.parts[1]?.url as string, { method: 'PUT', body: png.slice(created.partSize) });
    expect(late.status).to.equal(404);
    expect(late.headers.get('content-type')).to.match(/^application\/json/);
    expect(await stagingFiles(dataDir)).to.deep.equal([]);
  });

  it('the /_local/s3 door takes only presigned part PUTs into the staging bucket', async () => {
    const created = await create(server.url, server.apiToken, 'staged/door.png', 100);
    const url = new URL(created.parts[0]?.url as string);
    const get = await fetch(url, { method: 'GET' });
    expect(get.status).to.equal(405);
    const unsigned = new URL(url);
    unsigned.searchParams.delete('X-Amz-Signature');
    expect((await fetch(unsigned, { method: 'PUT', body: 'x' })).status).to.equal(403);
    const elsewhere = new URL(url);
    elsewhere.pathname = url.pathname.replace(STAGING_BUCKET, server.config.originalsBucket);
    const other = await fetch(elsewhere, { method: 'PUT', body: 'x' });
    expect(other.status).to.equal(404);
    expect(await other.text()).to.not.include(server.config.originalsBucket);
    // A browser's preflight from the playground's origin is answered for that origin; another one's is not.
    const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin: server.url } });
    expect(preflight.status).to.equal(204);
    expect(preflight.headers.get('access-control-allow-origin')).to.equal(server.url);
    expect(preflight.headers.get('access-control-expose-headers')).to.match(/etag/i);
    const foreign = await fetch(url, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
    expect(foreign.status).to.equal(403);
    expect(foreign.headers.get('access-control-allow-origin')).to.equal(null);
    expect((await call(server.url, server.apiToken, 'DELETE', `/api/uploads/${created.uploadId}`)).status).to.equal(
      204,
    );
  });

  it('expired part URLs refused (403 expired), and so is completing the upload', async () => {
    const shortDir = await mkdtemp(join(tmpdir(), 'edge-resizer-staged-ttl-'));
    const short = await startLocalServer({
      dataDir: shortDir,
      port: 0,
      seedSamples: false,
      stagedUploadTtlSeconds: 1,
      log: () => {},
    });
    try {
      const created = await create(short.url, short.apiToken, 'staged/late.png', 100);
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const put = await fetch(created.parts[0]?.url as string, { method: 'PUT', body: new Uint8Array(100) });
      expect(put.status).to.equal(403);
      expect(await put.json()).to.include({ code: 'expired' });
      const done = await call(short.url, short.apiToken, 'POST', `/api/uploads/${created.uploadId}/complete`, {
        parts: [{ partNumber: 1, etag: 'x' }],
      });
      expect(done.status).to.equal(403);
      expect(await done.json()).to.include({ code: 'expired' });
    } finally {
      await short.close();
      await rm(shortDir, { recursive: true, force: true });
    }
  });
});

describe('a 45 MB staged upload, server in its own process', function () {
  this.timeout(300_000);
  let dir: string;
  let served: ServeProcess;
  let token: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-staged-45-'));
    served = await startServe(['--port', '0', '--data-dir', join(dir, 'data')], { launch: 'node' });
    token = (await readFile(join(dir, 'data', 'api-token'), 'utf8')).trim();
  });
  after(async () => {
    await served?.stop('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  it('stores it with the same sha256, the server RSS growing less than 64 MB', async () => {
    const png = await noisePng(45);
    expect(png.length)
      .to.be.above(44 * MB)
      .and.below(50 * MB);
    const pid = await serverPid(served.child.pid as number);
    const startRss = await rssOf(pid);
    let peakRss = startRss;
    const sampler = setInterval(() => {
      void rssOf(pid).then((rss) => {
        peakRss = Math.max(peakRss, rss);
      });
    }, 50);
    const started = performance.now();
    let elapsed: number;
    try {
      const created = await create(served.url, token, 'staged/noise-45.png', png.length);
      const parts = await putParts(created, png);
      const uploaded = performance.now();
      const done = await call(served.url, token, 'POST', `/api/uploads/${created.uploadId}/complete`, { parts });
      expect(done.status, await done.clone().text()).to.equal(201);
      elapsed = performance.now() - started;
      console.log(
        `      figure: 45 MB staged upload ${(png.length / MB).toFixed(1)} MB in ${(elapsed / 1000).toFixed(2)} s ` +
          `= ${(png.length / MB / (elapsed / 1000)).toFixed(1)} MB/s end to end ` +
          `(parts ${(png.length / MB / ((uploaded - started) / 1000)).toFixed(1)} MB/s, complete ${((performance.now() - uploaded) / 1000).toFixed(2)} s)`,
      );
    } finally {
      clearInterval(sampler);
    }
    peakRss = Math.max(peakRss, await rssOf(pid));
    const growth = peakRss - startRss;
    console.log(
      `      figure: server RSS ${(startRss / MB).toFixed(0)} MB → peak ${(peakRss / MB).toFixed(0)} MB, growth ${(growth / MB).toFixed(1)} MB`,
    );
    expect(startRss).to.be.above(0);
    const back = await originalBack(served.url, token, 'staged/noise-45.png');
    expect(sha256(back.bytes)).to.equal(sha256(png));
    expect(await stagingFiles(join(dir, 'data'))).to.deep.equal([]);
    expect(growth).to.be.below(64 * MB);
  });
});
