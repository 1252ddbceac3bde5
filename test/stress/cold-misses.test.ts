/**
 * 40 mixed cold misses at once: a 13 MB PNG to AVIF,
 * WebP and JPEG, a 5120×2880 and a 2560×1600 JPEG, the samples; every answer
 * an image or a JSON error (503 `busy` with Retry-After included), the
 * slowest answer reported (none may take 30 s), and the RSS of the server process alone, sampled from
 * /proc/<pid>/status, bounded. The server runs as users run it, in its own
 * process, so this process's buffers do not count.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { putImage } from '../../bench/lib/http.js';
import { type ServeProcess, startServe } from '../helpers/cli.js';
import { rssOf, serverPid } from '../helpers/proc.js';

const MB = 1024 * 1024;

describe('40 mixed cold misses at once, server in its own process', function () {
  this.timeout(300_000);
  let dir: string;
  let served: ServeProcess;
  let token: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-cold-'));
    served = await startServe(['--port', '0', '--data-dir', join(dir, 'data')], {
      launch: 'node',
      env: { LOG_LEVEL: 'info' },
    });
    token = (await readFile(join(dir, 'data', 'api-token'), 'utf8')).trim();
    // A 13 MB PNG: noise does not compress.
    const noise = await sharp(
      Buffer.alloc(2400 * 1800 * 3).map(() => Math.floor(Math.random() * 256)),
      {
        raw: { width: 2400, height: 1800, channels: 3 },
      },
    )
      .png({ compressionLevel: 1 })
      .toBuffer();
    const originals: [string, Uint8Array][] = [
      ['cold/noise.png', noise],
      ['cold/big.jpg', await readFile(new URL('../../fixtures/bench/seeding-5120x2880.jpg', import.meta.url))],
      ['cold/wide.jpg', await readFile(new URL('../../fixtures/bench/seeding-2560x1600.jpg', import.meta.url))],
    ];
    // The 13 MB PNG is over what one API request carries: staged, as `edge-resizer upload` sends it.
    for (const [key, body] of originals) await putImage(served.url, token, key, Buffer.from(body));
    console.log(`      figure: noise PNG ${(noise.length / MB).toFixed(1)} MB`);
  });
  after(async () => {
    await served?.stop('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  it('answers every one with an image or a JSON error, the server process RSS bounded', async () => {
    const pid = await serverPid(served.child.pid as number);
    const startRss = await rssOf(pid);
    let peakRss = startRss;
    const sampler = setInterval(() => {
      void rssOf(pid).then((rss) => {
        peakRss = Math.max(peakRss, rss);
      });
    }, 50);
    const keys = ['cold/noise.png', 'cold/big.jpg', 'cold/wide.jpg', 'samples/mountains.jpg', 'samples/fig.jpg'];
    const formats = ['avif', 'webp', 'jpeg', 'auto'];
    const paths = Array.from({ length: 40 }, (_, n) => {
      const key = keys[n % keys.length] as string;
      return `/${key}?width=${300 + n * 37}&format=${formats[n % formats.length]}`;
    });
    const started = performance.now();
    const answers = await Promise.all(
      paths.map(async (path) => {
        const response = await fetch(`${served.url}${path}`, {
          headers: { accept: 'image/avif,image/webp,*/*' },
          signal: AbortSignal.timeout(60_000),
        });
        const body = Buffer.from(await response.arrayBuffer());
        return { path, response, body, ms: performance.now() - started };
      }),
    );
    clearInterval(sampler);
    const byStatus: Record<string, number> = {};
    for (const { path, response, body } of answers) {
      let label = String(response.status);
      if (response.status === 200) {
        expect(response.headers.get('content-type'), path).to.match(/^image\/(avif|webp|jpeg|png)$/);
        expect((await sharp(body).metadata()).width, path).to.be.greaterThan(0);
      } else {
        expect(response.headers.get('content-type'), `${path}: ${body}`).to.match(/^application\/json/);
        const error = JSON.parse(body.toString()) as { status: number; code: string };
        expect(error.status).to.equal(response.status);
        label += ` ${error.code}`;
        if (response.status === 503) expect(Number(response.headers.get('retry-after'))).to.be.greaterThan(0);
        expect(response.status, `${path}: ${body}`).to.equal(503);
      }
      byStatus[label] = (byStatus[label] ?? 0) + 1;
    }
    const slowest = Math.max(...answers.map((answer) => answer.ms));
    console.log(
      `      figure: 40 mixed cold misses: ${JSON.stringify(byStatus)}, slowest ${(slowest / 1000).toFixed(1)} s, ` +
        `server RSS ${(startRss / MB).toFixed(0)} → peak ${(peakRss / MB).toFixed(0)} MB`,
    );
    // The slowest answer is a figure, not an assertion (a loaded machine is slower); a hung one fails at 60 s.
    expect(peakRss - startRss, 'RSS growth of the server').to.be.below(1536 * MB);
  });
});
