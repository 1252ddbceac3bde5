/**
 * Rows 1 and 2: the miss path through the local CDN (viewer function, cache,
 * origin-request, S3 404, origin-response: fetch + decrypt + transform + store,
 * base64 response) against the bare transform on the same plaintext in the
 * same process, and against IPX doing the same resize from a plain file.
 * Each of our requests names a key not asked for before, so each is a real miss.
 */
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchContext } from '../lib/context.js';
import { PHOTO_2560, variantOf } from '../lib/fixtures.js';
import { serverTiming, timedGet } from '../lib/http.js';
import type { RowResult } from '../lib/report.js';
import { median, ms, percentile, round } from '../lib/stats.js';

export const MISS_QUERY = 'width=400&format=webp&quality=80';
const WARMUP = 2;

export async function missRows(ctx: BenchContext): Promise<[RowResult, RowResult]> {
  const iterations = ctx.pool.length - WARMUP;
  ctx.progress(`rows 1-2: ${iterations} misses, bare transforms and IPX requests, interleaved`);
  await copyFile(PHOTO_2560, join(ctx.ipxDir, 'photo.jpg'));
  const variant = variantOf(MISS_QUERY);
  const ipxPath = `${ctx.ipxUrl}/w_400,f_webp,q_80/photo.jpg`;

  const ours: number[] = [];
  const bare: number[] = [];
  const ipx: number[] = [];
  const phases: Record<string, number[]> = {};
  const outputBytes = { ours: 0, ipx: 0 };
  for (const [index, key] of ctx.pool.entries()) {
    const record = index >= WARMUP;
    // Rotate the order so no contender always runs right after another's garbage.
    const jobs = [
      async () => {
        const response = await timedGet(`${ctx.cdnInfo.url}/${key}?${MISS_QUERY}`);
        if (response.status !== 200 || !String(response.headers['x-cache']).startsWith('Miss')) {
          throw new Error(`expected a 200 miss for ${key}, got ${response.status} ${response.headers['x-cache']}`);
        }
        if (!record) return;
        ours.push(response.total);
        outputBytes.ours = response.bytes;
        for (const [name, value] of Object.entries(serverTiming(response.headers['server-timing']))) {
          phases[name] = [...(phases[name] ?? []), value];
        }
      },
      async () => {
        const elapsed = await ctx.cdn.call<number>('bare', { file: PHOTO_2560, variant });
        if (record) bare.push(elapsed);
      },
      async () => {
        const response = await timedGet(ipxPath);
        if (response.status !== 200) throw new Error(`IPX answered ${response.status}`);
        if (!record) return;
        ipx.push(response.total);
        outputBytes.ipx = response.bytes;
      },
    ];
    for (let j = 0; j < jobs.length; j += 1) await jobs[(index + j) % jobs.length]?.();
  }

  const oursMedian = median(ours);
  const oursP90 = percentile(ours, 90);
  const phaseMedians = Object.fromEntries(
    Object.entries(phases).map(([name, values]) => [name, round(median(values))]),
  );
  const inHandler = Object.values(phaseMedians).reduce((total, value) => total + value, 0);
  const phaseText = Object.entries(phaseMedians)
    .map(([name, value]) => `${name} ${value.toFixed(1)}`)
    .join(', ');

  const row1: RowResult = {
    id: 1,
    title: 'Miss path (local CDN) vs bare transform — 2560×1600 JPEG → 400 px WebP q80',
    lines: [
      line('median', oursMedian, 'bare', median(bare), '≤ 1.30×', 1.3),
      line('p90', oursP90, 'bare', percentile(bare, 90), '≤ 1.30×', 1.3),
    ],
    notes: [
      `n=${ours.length} misses, each a new key (copies uploaded through the API). Server-Timing medians (ms): ${phaseText}; ` +
        `the rest of the ${oursMedian.toFixed(1)} ms (${(oursMedian - inHandler).toFixed(1)} ms) is the viewer function, cache, ` +
        'origin-request, the S3 404 for the derivative, base64 and HTTP.',
    ],
    data: {
      iterations: ours.length,
      oursMs: summary(ours),
      bareMs: summary(bare),
      ratioMedian: round(oursMedian / median(bare), 3),
      ratioP90: round(oursP90 / percentile(bare, 90), 3),
      serverTimingMedianMs: phaseMedians,
      outputBytes: outputBytes.ours,
    },
  };

  const row2: RowResult = {
    id: 2,
    title: 'Same job: our miss (decrypt + store too) vs IPX 3 (plain file, no store)',
    lines: [
      line('median', oursMedian, 'IPX', median(ipx), '≤ 1.00×', 1.0),
      line('p90', oursP90, 'IPX', percentile(ipx, 90), '≤ 1.00×', 1.0),
    ],
    notes: [
      `IPX GET /w_400,f_webp,q_80/photo.jpg, on its own sharp (see machine), reading the file each time; output ` +
        `${outputBytes.ipx} B vs ours ${outputBytes.ours} B (ours also auto-orients and converts to sRGB).`,
    ],
    data: { ipxMs: summary(ipx), ratioMedian: round(oursMedian / median(ipx), 3), ipxOutputBytes: outputBytes.ipx },
  };
  return [row1, row2];
}

function line(stat: string, oursValue: number, peerName: string, peerValue: number, target: string, limit: number) {
  const value = oursValue / peerValue;
  return {
    measure: stat,
    ours: ms(oursValue),
    peer: `${peerName} ${ms(peerValue)}`,
    ratio: value,
    target,
    pass: value <= limit,
  };
}

export function summary(samples: readonly number[]) {
  return { median: round(median(samples)), p90: round(percentile(samples, 90)), min: round(Math.min(...samples)) };
}
