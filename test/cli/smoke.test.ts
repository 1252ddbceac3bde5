/**
 * `edge-resizer smoke` against the real local CDN (real sharp, s3rver,
 * dynalite, the viewer function and both Lambda@Edge handlers), run as the
 * bin in a child process: every step passes on a stage with signing and
 * presets, a stage's missing pieces are skipped, a CDN whose misses fail
 * makes it exit 1, and whatever happens nothing is left under `_smoke/`.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import type { StepLine } from '../../src/cli/smoke.js';
import { HttpError } from '../../src/core/errors.js';
import { validateImageKey } from '../../src/core/keys.js';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';
import { runCli } from '../helpers/cli.js';

const SECRET = 'smoke-test-signing-secret';
const STEPS = [
  'signing',
  'settings',
  'upload',
  'miss',
  'hit',
  'negotiate',
  'preset',
  'error',
  'redirect',
  'signed',
  'staged',
  'cleanup',
];

const parseLines = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as StepLine);
const statusOf = (lines: StepLine[]) => Object.fromEntries(lines.map((line) => [line.step, line.status]));

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Forwards to `target`, but every image answer that CloudFront would call a miss becomes a 502. */
async function startMissBreaker(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      const payload = await body(req);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string' && name !== 'host' && name !== 'connection') headers[name] = value;
      }
      const answer = await fetch(`${target}${req.url}`, {
        method: req.method,
        headers,
        redirect: 'manual',
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : new Uint8Array(payload),
      });
      const bytes = Buffer.from(await answer.arrayBuffer());
      if (/^Miss from cloudfront/.test(answer.headers.get('x-cache') ?? '') && answer.status === 200) {
        const error = '{"status":502,"code":"storage_error","message":"injected"}';
        res.writeHead(502, { 'content-type': 'application/json', 'x-cache': 'Error from cloudfront' });
        return res.end(error);
      }
      const out: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (name !== 'content-encoding' && name !== 'transfer-encoding' && name !== 'connection') out[name] = value;
      });
      out['content-length'] = String(bytes.length);
      res.writeHead(answer.status, out);
      res.end(bytes);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('edge-resizer smoke', function () {
  this.timeout(180_000);
  let dir: string;
  let server: LocalServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-smoke-'));
    server = await startLocalServer({
      dataDir: join(dir, 'data'),
      port: 0,
      seedSamples: false,
      signingSecret: SECRET,
      // prod's srcset steps, refused rather than snapped: the strictest width policy.
      config: {
        presets: { card: 'width=320&height=180' },
        allowedWidths: [64, 128, 256, 320, 480, 640, 750, 828, 1080, 1200, 1920, 2048, 3840],
        widthPolicy: 'reject',
      },
      log: () => {},
    });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Every key the API lists, and every object of every bucket, that starts with `_smoke/`. */
  async function leftovers(): Promise<string[]> {
    const listing = await fetch(`${server.url}/api/images`, {
      headers: { authorization: `Bearer ${server.apiToken}` },
    });
    expect(listing.status).to.equal(200);
    const keys = (await listing.text())
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => (JSON.parse(line) as { key: string }).key)
      .filter((key) => key.startsWith('_smoke/'));
    const s3 = join(dir, 'data', 's3');
    const objects: string[] = [];
    for (const bucket of await readdir(s3)) {
      const entries = await readdir(join(s3, bucket), { recursive: true });
      objects.push(...entries.filter((entry) => entry.startsWith('_smoke')).map((entry) => `${bucket}/${entry}`));
    }
    return [...keys, ...objects];
  }

  it('passes every step on a stage with signing and presets, then leaves nothing under _smoke/', async () => {
    const result = await runCli(
      ['smoke', '--url', server.url, '--token', server.apiToken, '--signing-secret', SECRET, '--json'],
      { timeoutMs: 120_000 },
    );
    const lines = parseLines(result.stdout);
    expect(result.code, result.stdout + result.stderr).to.equal(0);
    expect(lines.map((line) => line.step)).to.deep.equal(STEPS);
    for (const line of lines) {
      expect(line.status, `${line.step}: ${line.detail}`).to.equal('ok');
      expect(line.ms).to.be.a('number').and.at.least(0);
    }
    const detail = Object.fromEntries(lines.map((line) => [line.step, line.detail]));
    expect(detail.hit).to.match(/Hit from cloudfront/);
    expect(detail.negotiate).to.match(/avif, webp, jpeg/);
    expect(detail.signed).to.match(/unsigned 403/);
    expect(await leftovers()).to.deep.equal([]);
  });

  it('sweeps what runs killed before their cleanup left over an hour ago, and spares a run in progress', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3a6' } })
      .jpeg()
      .toBuffer();
    const minute = new Date().toISOString().slice(0, 16).replace(/[-T:]/g, '');
    const abandoned = '_smoke/202001010000-deadbeef/photo.jpg';
    const inProgress = `_smoke/${minute}-cafecafe/photo.jpg`;
    for (const key of [abandoned, inProgress]) {
      const put = await fetch(`${server.url}/api/images/${key}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${server.apiToken}` },
        body: new Uint8Array(jpeg),
      });
      expect(put.status, key).to.equal(201);
    }
    const result = await runCli(
      ['smoke', '--url', server.url, '--token', server.apiToken, '--signing-secret', SECRET, '--json'],
      { timeoutMs: 120_000 },
    );
    expect(result.code, result.stdout + result.stderr).to.equal(0);
    const cleanup = parseLines(result.stdout).find((line) => line.step === 'cleanup');
    expect(cleanup?.detail).to.match(/and 1 left by earlier runs/);
    expect(await leftovers())
      .to.include(inProgress)
      .and.not.include(abandoned);
    const removed = await fetch(`${server.url}/api/images/${inProgress}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${server.apiToken}` },
    });
    expect(removed.status).to.equal(204);
    expect(await leftovers()).to.deep.equal([]);
  });

  it('prints one line per step with its time on stderr without --json', async () => {
    const result = await runCli(['smoke', '--url', server.url, '--token', server.apiToken], {
      timeoutMs: 120_000,
      env: { SIGNING_SECRET: SECRET },
    });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.equal('');
    for (const step of STEPS) expect(result.stderr).to.match(new RegExp(`^ok +${step} +\\d+ ms  \\S`, 'm'));
    expect(result.stderr).to.match(/^smoke: 12 ok, 0 skipped, 0 failed$/m);
  });

  it('without a token, skips what needs the API and still checks the error and signing', async () => {
    const result = await runCli(['smoke', '--url', server.url, '--signing-secret', SECRET, '--json'], {
      timeoutMs: 60_000,
      env: { API_TOKEN: '' },
    });
    expect(result.code, result.stdout + result.stderr).to.equal(0);
    const status = statusOf(parseLines(result.stdout));
    expect(status).to.include({ signing: 'ok', error: 'ok', settings: 'skipped', upload: 'skipped' });
    expect(status).to.include({ miss: 'skipped', preset: 'skipped', staged: 'skipped', cleanup: 'skipped' });
  });

  it('fails (exit 1) when signing is on and no secret is given, instead of skipping everything', async () => {
    const result = await runCli(['smoke', '--url', server.url, '--token', server.apiToken, '--json'], {
      timeoutMs: 60_000,
      env: { SIGNING_SECRET: '' },
    });
    expect(result.code).to.equal(1);
    const lines = parseLines(result.stdout);
    expect(lines.find((line) => line.step === 'signing')).to.include({ status: 'failed' });
    expect(lines.find((line) => line.step === 'signing')?.detail).to.match(/--signing-secret/);
  });

  it('exits 1 when misses fail, naming the step, and still deletes what it created', async () => {
    const breaker = await startMissBreaker(server.url);
    try {
      const result = await runCli(
        ['smoke', '--url', breaker.url, '--token', server.apiToken, '--signing-secret', SECRET, '--json'],
        { timeoutMs: 120_000 },
      );
      expect(result.code, result.stdout + result.stderr).to.equal(1);
      const lines = parseLines(result.stdout);
      const miss = lines.find((line) => line.step === 'miss');
      expect(miss).to.include({ status: 'failed' });
      expect(miss?.detail).to.match(/502 storage_error/);
      expect(statusOf(lines)).to.include({ upload: 'ok', error: 'ok', cleanup: 'ok' });
      expect(await leftovers()).to.deep.equal([]);
    } finally {
      await breaker.close();
    }
  });

  it('is bad usage (exit 2) without --url or with a URL that is not http(s)', async () => {
    const help = await runCli(['smoke', '--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout)
      .to.match(/--url/)
      .and.match(/--signing-secret/);
    for (const args of [['smoke'], ['smoke', '--url', 'ftp://example.com'], ['smoke', '--url', 'not a url']]) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).to.equal(2);
      expect(result.stderr).to.not.equal('');
      expect(result.stderr).to.not.match(/\n\s+at /);
    }
  });
});

describe('edge-resizer smoke on a stage with presetPolicy only and signing off', function () {
  this.timeout(180_000);
  let dir: string;
  let server: LocalServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-smoke-only-'));
    server = await startLocalServer({
      dataDir: join(dir, 'data'),
      port: 0,
      seedSamples: false,
      config: { presets: { thumb: 'width=160&height=120' }, presetPolicy: 'only' },
      log: () => {},
    });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('builds every image URL from a preset, skips the full-size redirect and signing, and passes', async () => {
    const result = await runCli(['smoke', '--url', server.url, '--token', server.apiToken, '--json'], {
      timeoutMs: 120_000,
      env: { SIGNING_SECRET: '' },
    });
    expect(result.code, result.stdout + result.stderr).to.equal(0);
    const lines = parseLines(result.stdout);
    const status = statusOf(lines);
    expect(status).to.include({ signing: 'ok', miss: 'ok', hit: 'ok', negotiate: 'ok', preset: 'ok', error: 'ok' });
    expect(status).to.include({ staged: 'ok', cleanup: 'ok', redirect: 'skipped', signed: 'skipped' });
    expect(lines.find((line) => line.step === 'settings')?.detail).to.match(/policy only/);
  });
});

describe('image keys: _smoke/ is the one _ prefix a key may take', () => {
  it('accepts keys under _smoke/ and still refuses every other _ key', () => {
    expect(() => validateImageKey('_smoke/202612080000-0123abcd/photo.jpg')).not.to.throw();
    for (const key of ['_smoke', '_smokey/a.jpg', '_Smoke/a.jpg', '_playground/index.html', '_a.jpg']) {
      expect(() => validateImageKey(key), key).to.throw(HttpError, /reserved/);
    }
    expect(() => validateImageKey('_smoke/../a.jpg')).to.throw(HttpError, /\.\./);
  });
});
