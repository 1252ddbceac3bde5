/**
 * Row 3: the hit path — viewer-request function, cache key, edge cache — under
 * autocannon on loopback. Latencies are taken from every response at full
 * resolution (autocannon's own histogram keeps whole milliseconds).
 */
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { BenchContext } from '../lib/context.js';
import { timedGet } from '../lib/http.js';
import type { RowResult } from '../lib/report.js';
import { ms, percentile, round } from '../lib/stats.js';
import { MISS_QUERY } from './miss.js';

const CONNECTIONS = 10;

/** The part of autocannon (untyped) used here: per-response latencies at full resolution, and the totals. */
interface Instance extends EventEmitter, PromiseLike<{ errors: number; non2xx: number }> {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, responseTime: number) => void): this;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (options: {
  url: string;
  connections: number;
  duration: number;
}) => Instance;

export async function hitRow(ctx: BenchContext): Promise<RowResult> {
  const duration = ctx.quick ? 5 : 10;
  const url = `${ctx.cdnInfo.url}/${ctx.pool[0]}?${MISS_QUERY}`;
  const first = await timedGet(url);
  if (!String(first.headers['x-cache']).startsWith('Hit')) throw new Error(`expected a hit for ${url}`);
  ctx.progress(`row 3: autocannon, ${CONNECTIONS} connections, ${duration} s (+1 s warm-up)`);
  await autocannon({ url, connections: CONNECTIONS, duration: 1 });

  const latencies: number[] = [];
  let non200 = 0;
  const instance = autocannon({ url, connections: CONNECTIONS, duration });
  instance.on('response', (_client, status, _bytes, responseTime) => {
    if (status === 200) latencies.push(responseTime);
    else non200 += 1;
  });
  const result = await instance;
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  const rps = latencies.length / duration;
  return {
    id: 3,
    title: `Hit path (local CDN), autocannon ${CONNECTIONS} connections × ${duration} s`,
    lines: [
      { measure: 'p50', ours: ms(p50) },
      { measure: 'p99', ours: ms(p99), target: '≤ 5 ms', pass: p99 <= 5 },
      { measure: 'throughput', ours: `${Math.round(rps).toLocaleString('en-US')} req/s` },
    ],
    notes: [
      `${latencies.length} responses of ${first.bytes} B, ${non200} not 200, ` +
        `${result.errors} errors; client and server are separate processes on the same ${CONNECTIONS} loopback connections.`,
    ],
    data: {
      connections: CONNECTIONS,
      durationSeconds: duration,
      responses: latencies.length,
      p50Ms: round(p50, 3),
      p90Ms: round(percentile(latencies, 90), 3),
      p99Ms: round(p99, 3),
      maxMs: round(Math.max(...latencies), 3),
      requestsPerSecond: Math.round(rps),
      errors: result.errors + non200,
    },
  };
}
