/**
 * `edge-resizer upload` of files over 5 MB goes through staged multipart
 * uploads, against a real local CDN. A tiny HTTP proxy sits
 * between the CLI and the CDN: it rewrites the part URLs to point at itself,
 * so that it can fail part PUTs (once, or every time) and record the abort.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFile as fsWriteFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';
import { runCli } from '../helpers/cli.js';

const MB = 1024 * 1024;

interface FaultProxy {
  url: string;
  /** PUTs of parts seen, with what they got. */
  puts: { partNumber: string; outcome: 'dropped' | 'refused' | number }[];
  /** `DELETE /api/uploads/<id>` calls and the CDN's answers. */
  aborts: number[];
  close(): Promise<void>;
}

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** `failPut(n)` decides the n-th part PUT's fate (0-based): pass, drop the connection, or answer 503. */
async function startFaultProxy(
  target: string,
  failPut: (n: number) => 'pass' | 'drop' | 'refuse',
): Promise<FaultProxy> {
  const puts: FaultProxy['puts'] = [];
  const aborts: number[] = [];
  let url = '';
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = req.url ?? '/';
      const isPart = req.method === 'PUT' && path.startsWith('/_local/s3/');
      if (isPart) {
        const partNumber = new URL(path, 'http://x').searchParams.get('partNumber') ?? '?';
        const fate = failPut(puts.length);
        if (fate === 'drop') {
          puts.push({ partNumber, outcome: 'dropped' });
          req.socket.destroy();
          return;
        }
        if (fate === 'refuse') {
          await body(req);
          puts.push({ partNumber, outcome: 'refused' });
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end('{"status":503,"code":"storage_error","message":"injected"}');
          return;
        }
      }
      const payload = await body(req);
      const headers: Record<string, string> = {};
      for (const name of ['authorization', 'content-type']) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const answer = await fetch(`${target}${path}`, {
        method: req.method,
        headers,
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : new Uint8Array(payload),
      });
      let text = Buffer.from(await answer.arrayBuffer());
      if (req.method === 'POST' && path === '/api/uploads') {
        text = Buffer.from(text.toString('utf8').split(target).join(url));
      }
      if (isPart)
        puts.push({
          partNumber: new URL(path, 'http://x').searchParams.get('partNumber') ?? '?',
          outcome: answer.status,
        });
      if (req.method === 'DELETE' && path.startsWith('/api/uploads/')) aborts.push(answer.status);
      const out: Record<string, string> = { 'content-length': String(text.length) };
      for (const name of ['content-type', 'etag']) {
        const value = answer.headers.get(name);
        if (value) out[name] = value;
      }
      res.writeHead(answer.status, out);
      res.end(text);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    puts,
    aborts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('edge-resizer upload: files over 5 MB through staged multipart uploads', function () {
  this.timeout(180_000);
  let dir: string;
  let server: LocalServer;
  let file: string;
  let png: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-cli-staged-'));
    server = await startLocalServer({ dataDir: join(dir, 'data'), port: 0, seedSamples: false, log: () => {} });
    // A 12 MB PNG of noise: two parts of the API's 8 MiB.
    png = await sharp(randomBytes(2000 * 2000 * 3), { raw: { width: 2000, height: 2000, channels: 3 } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    file = join(dir, 'noise.png');
    await fsWriteFile(file, png);
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

  async function backThroughOriginals(key: string): Promise<string> {
    const info = await fetch(`${server.url}/api/images/${key}`, {
      headers: { authorization: `Bearer ${server.apiToken}` },
    });
    expect(info.status).to.equal(200);
    const { originalUrl } = (await info.json()) as { originalUrl: string };
    const original = await fetch(`${server.url}${originalUrl}`);
    expect(original.status).to.equal(200);
    return sha256(new Uint8Array(await original.arrayBuffer()));
  }

  async function stagingFiles(): Promise<string[]> {
    const entries = await readdir(join(dir, 'data', 's3', server.config.stagingBucket), {
      recursive: true,
      withFileTypes: true,
    }).catch(() => []);
    // The claims of finished uploads (a word each, expired by the lifecycle rule) are not staged bytes.
    return entries
      .filter((entry) => entry.isFile() && !entry.parentPath.includes(`${sep}claims`))
      .map((entry) => entry.name);
  }

  it('a 12 MB file: staged parts, the API answer in its JSON line, the same sha256 back', async () => {
    expect(png.length).to.be.above(11 * MB);
    const proxy = await startFaultProxy(server.url, () => 'pass');
    try {
      const result = await runCli([
        'upload',
        file,
        '--prefix',
        'cli-staged/',
        '--endpoint',
        proxy.url,
        '--token',
        server.apiToken,
      ]);
      expect(result.code, result.stderr).to.equal(0);
      const line = JSON.parse(result.stdout.trim());
      expect(line).to.include({ ok: true, key: 'cli-staged/noise.png', bytes: png.length, version: 1 });
      // Two parts, through the staged path (a single PUT /api/images would show none).
      expect(proxy.puts.map((put) => put.outcome)).to.deep.equal([200, 200]);
      expect(await backThroughOriginals('cli-staged/noise.png')).to.equal(sha256(png));
      expect(await stagingFiles()).to.deep.equal([]);
    } finally {
      await proxy.close();
    }
  });

  it('a part PUT whose connection drops once is retried, and the upload succeeds', async () => {
    const proxy = await startFaultProxy(server.url, (n) => (n === 0 ? 'drop' : 'pass'));
    try {
      const result = await runCli([
        'upload',
        file,
        '--prefix',
        'cli-retry/',
        '--endpoint',
        proxy.url,
        '--token',
        server.apiToken,
      ]);
      expect(result.code, result.stderr).to.equal(0);
      expect(JSON.parse(result.stdout.trim())).to.include({ ok: true, key: 'cli-retry/noise.png', bytes: png.length });
      const outcomes = proxy.puts.map((put) => put.outcome);
      expect(outcomes[0]).to.equal('dropped');
      expect(outcomes.filter((outcome) => outcome === 200)).to.have.length(2);
      expect(proxy.aborts).to.deep.equal([]);
      expect(await backThroughOriginals('cli-retry/noise.png')).to.equal(sha256(png));
    } finally {
      await proxy.close();
    }
  });

  it('when every attempt fails: exit 1 with the reason, the upload aborted, nothing stored', async () => {
    const proxy = await startFaultProxy(server.url, () => 'refuse');
    try {
      const result = await runCli([
        'upload',
        file,
        '--prefix',
        'cli-fail/',
        '--endpoint',
        proxy.url,
        '--token',
        server.apiToken,
      ]);
      expect(result.code).to.equal(1);
      const line = JSON.parse(result.stdout.trim());
      expect(line).to.include({ ok: false, key: 'cli-fail/noise.png' });
      expect(line.error).to.match(/after 3 attempts: 503 storage_error/);
      // Three attempts of a part (the other part may have stopped early), then one abort that the CDN took.
      const perPart = new Map<string, number>();
      for (const put of proxy.puts) perPart.set(put.partNumber, (perPart.get(put.partNumber) ?? 0) + 1);
      expect(Math.max(...perPart.values())).to.equal(3);
      expect(proxy.aborts).to.deep.equal([204]);
      expect(await stagingFiles()).to.deep.equal([]);
      const info = await fetch(`${server.url}/api/images/cli-fail/noise.png`, {
        headers: { authorization: `Bearer ${server.apiToken}` },
      });
      expect(info.status).to.equal(404);
    } finally {
      await proxy.close();
    }
  });
});
