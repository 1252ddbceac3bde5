/**
 * Load (npm run test:stress): 100 connections on loopback for 20 s over a mix
 * of cache hits, concurrent misses of one variant, and a flood of unique
 * variants. No 5xx but the documented 503 `busy`, bounded RSS, and every body
 * an image or a JSON error. The server runs in its own process, as users
 * run it, and its RSS is read from /proc: autocannon's buffers in this process
 * do not count.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { type ServeProcess, startServe } from '../helpers/cli.js';
import { rssOf, serverPid } from '../helpers/proc.js';

// The parts of autocannon used here; it ships no types.
interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
  onResponse?: (
    status: number,
    body: string,
    context: Record<string, unknown>,
    headers: Record<string, string>,
  ) => void;
}
interface AutocannonOptions {
  url: string;
  connections?: number;
  duration?: number;
  amount?: number;
  timeout?: number;
  requests?: AutocannonRequest[];
  headers?: Record<string, string>;
}
interface Histogram {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  average: number;
}
interface AutocannonResult {
  requests: Histogram & { total: number; sent: number };
  latency: Histogram;
  errors: number;
  timeouts: number;
  non2xx: number;
  '1xx': number;
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
  duration: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (
  options: AutocannonOptions,
) => Promise<AutocannonResult>;

const SAMPLES = [
  'mountains.jpg',
  'fig.jpg',
  'forest-stream.jpg',
  'paintbrushes.jpg',
  'dogs-portrait.jpg',
  'dogs-portrait.png',
];
const DURATION_S = 20;
const CONNECTIONS = 100;

describe('load (100 connections, 20 s)', function () {
  this.timeout((DURATION_S + 60) * 1000);
  let dataDir: string;
  let server: ServeProcess;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'edge-resizer-load-'));
    server = await startServe(['--port', '0', '--data-dir', dataDir]);
    for (const sample of SAMPLES)
      expect((await fetch(`${server.url}/samples/${sample}?width=300`)).status).to.equal(200);
  });
  after(async () => {
    await server.stop('SIGTERM');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('holds: zero 5xx but 503 busy, bounded RSS, every body an image or a JSON error', async () => {
    const byStatus = new Map<string, number>();
    const invalid: string[] = [];
    const uniquePaths: string[] = [];
    const pid = await serverPid(server.child.pid as number);
    let peakRss = await rssOf(pid);
    const startRss = peakRss;
    const sampler = setInterval(() => {
      void rssOf(pid).then((rss) => {
        peakRss = Math.max(peakRss, rss);
      });
    }, 100);
    let counter = 0;

    const check = (status: number, body: string, headers: Record<string, string>) => {
      const type = headers['content-type'] ?? headers['Content-Type'] ?? '';
      let code = '';
      if (status === 200) {
        if (!/^image\/(webp|jpeg|png|avif)$/.test(type) || body.length < 100)
          invalid.push(`${status} ${type} ${body.length}`);
      } else {
        try {
          const error = JSON.parse(body) as { status: number; code: string };
          code = error.code;
          if (error.status !== status) invalid.push(`status ${status} body says ${error.status}`);
        } catch {
          invalid.push(`${status} with a non-JSON body`);
        }
      }
      const label = `${status}${code ? ` ${code}` : ''}`;
      byStatus.set(label, (byStatus.get(label) ?? 0) + 1);
    };

    const result = await autocannon({
      url: server.url,
      connections: CONNECTIONS,
      duration: DURATION_S,
      timeout: 30,
      headers: { accept: 'image/avif,image/webp,*/*' },
      requests: [
        {
          setupRequest: (request) => {
            counter += 1;
            const sample = SAMPLES[counter % SAMPLES.length];
            const kind = counter % 10;
            let path: string;
            if (kind < 6)
              path = `/samples/${sample}?width=300`; // cache hits
            else if (kind < 8)
              path = `/samples/${sample}?width=640&height=480`; // one variant per image, collapsed
            else {
              path = `/samples/${sample}?width=${16 + ((counter * 7919) % 1600)}`; // unique variants
              if (uniquePaths.length < 200) uniquePaths.push(path);
            }
            return { ...request, path };
          },
          onResponse: (status, body, _context, headers) => check(status, body, headers),
        },
      ],
    });
    clearInterval(sampler);

    const summary = Object.fromEntries([...byStatus].sort());
    console.log(
      `      figure: ${result.requests.total} requests in ${result.duration} s (${Math.round(result.requests.average)}/s), ` +
        `latency p50 ${result.latency.p50} ms p99 ${result.latency.p99} ms, by status ${JSON.stringify(summary)}, ` +
        `errors ${result.errors}, timeouts ${result.timeouts}, server RSS ${Math.round(startRss / 2 ** 20)} → peak ${Math.round(peakRss / 2 ** 20)} MB`,
    );

    expect(result.requests.total).to.be.greaterThan(1000);
    expect(result.errors, 'connection errors').to.equal(0);
    expect(invalid.slice(0, 5), 'invalid bodies').to.deep.equal([]);
    const unexpected5xx = [...byStatus].filter(([label]) => label.startsWith('5') && label !== '503 busy');
    expect(unexpected5xx).to.deep.equal([]);
    expect(peakRss - startRss, 'RSS growth').to.be.below(1024 * 2 ** 20);

    // autocannon keeps bodies as text, so decode a sample of unique variants for real.
    for (const path of uniquePaths.slice(0, 20)) {
      const response = await fetch(`${server.url}${path}`, { headers: { accept: 'image/webp' } });
      if (response.status !== 200) continue;
      const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
      const sample = /samples\/([^?]+)/.exec(path)?.[1] as string;
      const originalWidth = (
        await sharp(new URL(`../../fixtures/photos/${sample}`, import.meta.url).pathname).metadata()
      ).width as number;
      // Never enlarged: the requested width, or the original's when it is smaller.
      expect(meta.width, path).to.equal(Math.min(Number(/width=(\d+)/.exec(path)?.[1]), originalWidth));
    }
  });
});
