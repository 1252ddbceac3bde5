/**
 * Row 9: throughput of misses — misses per second through the local CDN with
 * 1, 2, 4 and 8 requests in flight, each on its own key (copies of the
 * 2560×1600 photo, their derivatives purged before each batch), against the
 * bare transform's own throughput on the same plaintext at the same
 * concurrency in the server's process (same sharp, same libuv pool).
 */

import type { LoadReport } from '../cdn-child.js';
import type { BenchContext, BenchRow } from '../lib/context.js';
import { variantOf } from '../lib/fixtures.js';
import { eachLimit, serverTiming, timedGet } from '../lib/http.js';
import { figure, type RowResult } from '../lib/report.js';
import { median, ms, round } from '../lib/stats.js';
import { MISS_QUERY } from './miss.js';

const CONCURRENCY = [1, 2, 4, 8];

export function throughputRow(ctx: BenchContext): BenchRow {
  const variant = variantOf(MISS_QUERY);
  const file = ctx.inputs.photo2560.file;
  const keys = ctx.pool;
  const perSecond = (value: number) => `${value.toFixed(1)}/s`;
  /** Per concurrency: each miss's latency and Server-Timing, to tell where a slow batch spent its time. */
  const latencies: Record<number, Record<string, number>[]> = {};
  /** CPU ms of the server process (all its threads: JS and libvips) per miss and per bare transform; of s3rver + dynalite per miss. */
  const cpuPerMiss: Record<number, number> = {};
  const cpuPerBare: Record<number, number> = {};
  const storageCpuPerMiss: Record<number, number> = {};
  return {
    ids: [9],
    async run(roundIndex) {
      ctx.progress(
        `row 9 (round ${roundIndex + 1}): ${keys.length} misses per batch at concurrency ${CONCURRENCY.join('/')}, vs bare`,
      );
      const sharpInfo = await ctx.cdn.call<{ concurrency: number; uvThreadpoolSize: number }>('sharpInfo');
      if (roundIndex === 0) {
        // Warm-up: one batch, unrecorded.
        await batch(2);
      }
      for (const c of CONCURRENCY) latencies[c] = [];
      const ours: Record<number, number> = {};
      const bare: Record<number, number> = {};
      for (const [index, concurrency] of CONCURRENCY.entries()) {
        // Alternate which contender goes first.
        const oursFirst = (index + roundIndex) % 2 === 0;
        if (!oursFirst) bare[concurrency] = await bareBatch(concurrency);
        ours[concurrency] = await batch(concurrency);
        if (oursFirst) bare[concurrency] = await bareBatch(concurrency);
      }
      const result: RowResult = {
        id: 9,
        title: `Throughput of misses (local CDN) vs the bare transform, ${keys.length} × 2560×1600 JPEG → 400 px WebP`,
        lines: [
          ...CONCURRENCY.map((concurrency) =>
            figure(`concurrency ${concurrency}`, ours[concurrency] as number, perSecond, {
              peerName: 'bare',
              peerValue: bare[concurrency] as number,
              target: '≥ 0.85×',
              check: (r) => r >= 0.85,
            }),
          ),
          figure('server process CPU per miss vs per bare transform (concurrency 4)', cpuPerMiss[4] as number, ms, {
            peerName: 'bare',
            peerValue: cpuPerBare[4] as number,
          }),
          figure('  storage servers (s3rver + dynalite) CPU per miss', storageCpuPerMiss[4] as number, ms),
        ],
        notes: [
          'Once the cores are saturated (concurrency ≥ cores) throughput is CPU per miss: the server process (JS and libvips ' +
            'threads) and, on the same cores, the storage servers in their own process.',
          `Per-miss medians at concurrency 1 (ms): ${Object.entries(phaseMedians(latencies[1] ?? []))
            .map(([name, value]) => `${name} ${value}`)
            .join(', ')}.`,
          `Each batch: ${keys.length} misses on ${keys.length} keys with at most N in flight (derivatives purged before, untimed); bare: ` +
            `${keys.length} inspect + transform of the plaintext with at most N at once in the server process. sharp.concurrency ` +
            `${sharpInfo.concurrency} (libvips threads per image), UV_THREADPOOL_SIZE ${sharpInfo.uvThreadpoolSize} (images at once).`,
        ],
        data: {
          misses: keys.length,
          sharpConcurrency: sharpInfo.concurrency,
          uvThreadpoolSize: sharpInfo.uvThreadpoolSize,
          oursPerSecond: Object.fromEntries(CONCURRENCY.map((c) => [c, round(ours[c] as number)])),
          barePerSecond: Object.fromEntries(CONCURRENCY.map((c) => [c, round(bare[c] as number)])),
          cpuMsPerMiss: Object.fromEntries(CONCURRENCY.map((c) => [c, round(cpuPerMiss[c] as number)])),
          storageCpuMsPerMiss: Object.fromEntries(CONCURRENCY.map((c) => [c, round(storageCpuPerMiss[c] as number)])),
          cpuMsPerBare: Object.fromEntries(CONCURRENCY.map((c) => [c, round(cpuPerBare[c] as number)])),
          missMedianMs: Object.fromEntries(CONCURRENCY.map((c) => [c, phaseMedians(latencies[c] ?? [])])),
        },
      };
      return result;
    },
  };

  async function batch(concurrency: number): Promise<number> {
    for (const key of keys) await ctx.purge(key);
    await ctx.cdn.call('loadStart');
    await ctx.storage.call('cpuSince');
    const start = performance.now();
    await eachLimit(keys, concurrency, async (key) => {
      const response = await timedGet(`${ctx.cdnInfo.url}/${key}?${MISS_QUERY}`);
      if (response.status !== 200 || !String(response.headers['x-cache']).startsWith('Miss')) {
        throw new Error(`expected a 200 miss for ${key}, got ${response.status} ${response.headers['x-cache']}`);
      }
      const timing = serverTiming(response.headers['server-timing']);
      latencies[concurrency]?.push({ total: response.total, ...timing });
    });
    const elapsed = performance.now() - start;
    cpuPerMiss[concurrency] = (await ctx.cdn.call<LoadReport>('loadStop')).cpuMs / keys.length;
    storageCpuPerMiss[concurrency] = (await ctx.storage.call<number>('cpuSince')) / keys.length;
    return keys.length / (elapsed / 1000);
  }

  async function bareBatch(concurrency: number): Promise<number> {
    await ctx.cdn.call('loadStart');
    const elapsed = await ctx.cdn.call<number>('bareBatch', { file, variant, count: keys.length, concurrency });
    cpuPerBare[concurrency] = (await ctx.cdn.call<LoadReport>('loadStop')).cpuMs / keys.length;
    return keys.length / (elapsed / 1000);
  }
}

function phaseMedians(samples: Record<string, number>[]): Record<string, number> {
  const names = [...new Set(samples.flatMap((sample) => Object.keys(sample)))];
  return Object.fromEntries(
    names.map((name) => [name, round(median(samples.map((sample) => sample[name] ?? Number.NaN)))]),
  );
}
