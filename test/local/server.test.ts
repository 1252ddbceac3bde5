import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import type { CloudFrontResultResponse } from '../../src/edge/cloudfront.js';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';
import { BIN } from '../helpers/cli.js';

// A WebP-only browser (Chrome before AVIF): `format=auto` negotiates WebP.
const WEBP_ACCEPT = 'image/webp,image/apng,*/*;q=0.8';

describe('local/server (the local CDN)', () => {
  let dataDir: string;
  let server: LocalServer;
  let startupMs: number;
  const logLines: string[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'edge-resizer-local-'));
    const started = performance.now();
    server = await startLocalServer({ dataDir, port: 0, logLevel: 'info', log: (line) => logLines.push(line) });
    startupMs = performance.now() - started;
    console.log(`      figure: first start with sample upload ${startupMs.toFixed(0)} ms`);
  });
  after(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers });

  it('provisions a master key and an API token (mode 0600) and uploads the samples on first start', async () => {
    for (const name of ['master.key', 'api-token']) {
      const info = await stat(join(dataDir, name));
      expect(info.mode & 0o777, name).to.equal(0o600);
    }
    expect((await readFile(join(dataDir, 'master.key'), 'utf8')).trim()).to.match(/^[0-9a-f]{64}$/);
    expect(server.apiToken).to.equal((await readFile(join(dataDir, 'api-token'), 'utf8')).trim());
    const samples = (await readdir(new URL('../../fixtures/photos/', import.meta.url))).sort();
    const response = await get(`/samples/${samples[0]}?width=64`, { accept: '*/*' });
    expect(response.status).to.equal(200);
    expect((await sharp(Buffer.from(await response.arrayBuffer())).metadata()).width).to.equal(64);
  });

  it('serves a miss, then a hit, with X-Cache as CloudFront does', async () => {
    const before = server.transforms();
    const miss = await get('/samples/mountains.jpg?width=321', { accept: WEBP_ACCEPT });
    expect(miss.status).to.equal(200);
    expect(miss.headers.get('x-cache')).to.equal('Miss from cloudfront');
    // WebP negotiated; the JPEG where it is the smaller (never heavier).
    expect(miss.headers.get('content-type')).to.be.oneOf(['image/webp', 'image/jpeg']);
    expect(miss.headers.get('server-timing')).to.match(/transform;dur=/);
    const missBody = Buffer.from(await miss.arrayBuffer());
    const hit = await get('/samples/mountains.jpg?width=321', { accept: 'image/webp,*/*' });
    expect(hit.headers.get('x-cache')).to.equal('Hit from cloudfront');
    expect(hit.headers.get('server-timing'), 'a hit transforms nothing').to.equal(null);
    expect(Buffer.from(await hit.arrayBuffer()).equals(missBody)).to.equal(true);
    // Every hit on the entry gets the same head (built once per cached response): never the origin's internals.
    for (let i = 0; i < 3; i++) {
      const again = await get('/samples/mountains.jpg?width=321', { accept: WEBP_ACCEPT });
      expect(again.headers.get('x-cache')).to.equal('Hit from cloudfront');
      expect(again.headers.get('server-timing')).to.equal(null);
      expect(again.headers.get('x-resizer-location')).to.equal(null);
      expect(again.headers.get('content-length')).to.equal(String(missBody.length));
      expect(again.headers.get('etag')).to.equal(miss.headers.get('etag'));
      expect(Buffer.from(await again.arrayBuffer()).equals(missBody)).to.equal(true);
    }
    expect(server.transforms() - before).to.equal(1);
  });

  it('gives canonical variants one cache entry and one stored derivative', async () => {
    const before = server.transforms();
    const first = await get('/samples/fig.jpg?width=200&height=100', { accept: '*/*' });
    expect(first.headers.get('x-cache')).to.equal('Miss from cloudfront');
    const same = await get('/samples/fig.jpg?utm=1&height=100&quality=80&fit=cover&width=200&format=auto', {
      accept: 'image/png',
    });
    expect(same.headers.get('x-cache')).to.equal('Hit from cloudfront');
    // dpr is folded by the viewer function: the same cache entry.
    const dpr = await get('/samples/fig.jpg?width=100&height=50&dpr=2', { accept: '*/*' });
    expect(dpr.headers.get('x-cache')).to.equal('Hit from cloudfront');
    expect(dpr.headers.get('server-timing')).to.equal(null);
    expect(server.transforms() - before).to.equal(1);
  });

  it('collapses 30 concurrent identical misses into one transform with identical bodies', async () => {
    const before = server.transforms();
    const responses = await Promise.all(
      Array.from({ length: 30 }, () => get('/samples/forest-stream.jpg?width=555', { accept: WEBP_ACCEPT })),
    );
    const bodies = await Promise.all(responses.map(async (r) => Buffer.from(await r.arrayBuffer())));
    expect(responses.every((r) => r.status === 200)).to.equal(true);
    expect(bodies.every((b) => b.equals(bodies[0] as Buffer))).to.equal(true);
    expect(server.transforms() - before).to.equal(1);
    expect(responses.filter((r) => r.headers.get('x-cache') === 'Miss from cloudfront')).to.have.length(1);
    console.log(`      figure: transforms for 30 concurrent identical misses: ${server.transforms() - before}`);
  });

  it('answers If-None-Match with 304 and HEAD with the headers and no body', async () => {
    const path = '/samples/mountains.jpg?width=123';
    const first = await get(path, { accept: WEBP_ACCEPT });
    const etag = first.headers.get('etag') as string;
    expect(etag).to.match(/^"[0-9a-f]{32}"$/);
    const notModified = await get(path, { accept: WEBP_ACCEPT, 'if-none-match': etag });
    expect(notModified.status).to.equal(304);
    expect(notModified.headers.get('vary')).to.equal('Accept');
    for (const header of [`"nope", ${etag}`, `W/${etag}`, '*']) {
      const notModified = await get(path, { accept: WEBP_ACCEPT, 'if-none-match': header });
      expect(notModified.status, header).to.equal(304);
      expect(notModified.headers.get('x-cache'), header).to.equal('Hit from cloudfront');
      expect(notModified.headers.get('etag'), header).to.equal(etag);
    }
    expect((await get(path, { accept: WEBP_ACCEPT, 'if-none-match': '"nope"' })).status).to.equal(200);
    const head = await fetch(`${server.url}${path}`, { method: 'HEAD', headers: { accept: WEBP_ACCEPT } });
    expect(head.status).to.equal(200);
    expect(head.headers.get('content-length')).to.equal(String((await first.arrayBuffer()).byteLength));
    expect(head.headers.get('etag')).to.equal(etag);
    expect((await head.arrayBuffer()).byteLength).to.equal(0);
  });

  it('answers errors as JSON and caches a 404 for 60 s but not a 400', async () => {
    const bad = await get('/samples/mountains.jpg?width=abc');
    expect(bad.status).to.equal(400);
    expect(bad.headers.get('cache-control')).to.equal('no-store');
    expect(bad.headers.get('x-cache')).to.equal('FunctionGeneratedResponse from cloudfront');
    expect(await bad.json()).to.include({ code: 'invalid_param' });
    const missing = await get('/samples/nope.jpg?width=10');
    expect(missing.status).to.equal(404);
    expect(missing.headers.get('cache-control')).to.equal('public, max-age=60');
    const again = await get('/samples/nope.jpg?width=10');
    expect(again.headers.get('x-cache')).to.equal('Hit from cloudfront');
  });

  it('hands the API token to loopback clients at /_local/token', async () => {
    const response = await get('/_local/token');
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal({ token: server.apiToken });
  });

  it('refuses the token to a request naming another host or origin (DNS rebinding)', async () => {
    const { port } = new URL(server.url);
    const tokenStatus = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/_local/token', headers }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    for (const headers of <Record<string, string>[]>[
      { host: 'evil.example.com' },
      { host: `evil.example.com:${port}` },
      { host: '127.0.0.1.evil.example.com' },
      { host: `127.0.0.1:${port}`, origin: 'http://evil.example.com' },
      { host: `127.0.0.1:${port}`, origin: 'null' },
    ]) {
      const answer = await tokenStatus(headers);
      expect(answer.status, JSON.stringify(headers)).to.equal(404);
      expect(answer.body).to.not.include(server.apiToken);
      expect(JSON.parse(answer.body)).to.include({ code: 'not_found' });
    }
    for (const headers of <Record<string, string>[]>[
      { host: `127.0.0.1:${port}` },
      { host: `localhost:${port}`, origin: `http://localhost:${port}` },
      { host: `[::1]:${port}` },
    ]) {
      const answer = await tokenStatus(headers);
      expect(answer.status, JSON.stringify(headers)).to.equal(200);
      expect(JSON.parse(answer.body)).to.deep.equal({ token: server.apiToken });
    }
  });

  it('logs one JSON line per request with method, path, status, cache and ms', () => {
    const requests = logLines.map((line) => JSON.parse(line)).filter((entry) => entry.message === 'request');
    expect(requests.length).to.be.greaterThan(10);
    const hit = requests.find((entry) => entry.cache === 'hit');
    expect(hit).to.include.keys('method', 'path', 'status', 'cache', 'ms', 'time', 'level');
    expect(requests.some((entry) => entry.cache === 'miss')).to.equal(true);
    expect(requests.some((entry) => entry.status === 400 && entry.cache === 'functiongeneratedresponse')).to.equal(
      true,
    );
  });

  it("gives a handler's oversized generated body CloudFront's 502", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edge-resizer-broken-'));
    const broken = await startLocalServer({
      dataDir: dir,
      port: 0,
      logLevel: 'silent',
      seedSamples: false,
      wrapOriginResponse: () => async () =>
        ({
          status: '200',
          headers: { 'content-type': [{ key: 'Content-Type', value: 'image/jpeg' }] },
          bodyEncoding: 'base64',
          body: Buffer.alloc(1_200_000).toString('base64'),
        }) satisfies CloudFrontResultResponse,
    });
    try {
      const response = await fetch(`${broken.url}/any/image.jpg?width=10`);
      expect(response.status).to.equal(502);
      expect(await response.json()).to.include({ code: 'lambda_validation_error' });
    } finally {
      await broken.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps keys, token, originals and derivatives across a restart, without uploading the samples again', async () => {
    const token = server.apiToken;
    const key = (await readFile(join(dataDir, 'master.key'), 'utf8')).trim();
    await server.close();
    server = await startLocalServer({ dataDir, port: 0, logLevel: 'silent' });
    expect(server.apiToken).to.equal(token);
    expect((await readFile(join(dataDir, 'master.key'), 'utf8')).trim()).to.equal(key);
    const response = await get('/samples/mountains.jpg?width=321', { accept: WEBP_ACCEPT });
    expect(response.status).to.equal(200);
    expect(response.headers.get('server-timing')).to.equal(null);
    expect(server.transforms()).to.equal(0);
    const listing = await fetch(`${server.url}/api/images`, { headers: { authorization: `Bearer ${token}` } });
    const items = (await listing.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const samples = (await readdir(new URL('../../fixtures/photos/', import.meta.url))).length;
    expect(items.filter((item) => item.key.startsWith('samples/'))).to.have.length(samples);
  });

  it('`edge-resizer serve` prints working URLs and stops cleanly on Ctrl-C', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edge-resizer-cli-serve-'));
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dir], {
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stderr = '';
      const started = performance.now();
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed:\n${stderr}`)), 20_000);
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          const match = /Try\s+(http:\/\/\S+)/.exec(stderr);
          if (match) {
            clearTimeout(timer);
            resolve(match[1] as string);
          }
        });
      });
      console.log(
        `      figure: \`edge-resizer serve\` printed its URLs after ${(performance.now() - started).toFixed(0)} ms`,
      );
      const response = await fetch(url, { headers: { accept: WEBP_ACCEPT } });
      expect(response.status).to.equal(200);
      expect(response.headers.get('content-type')).to.be.oneOf(['image/webp', 'image/jpeg']); // never heavier
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      child.kill('SIGINT');
      expect(await exited).to.equal(0);
    } finally {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
