/**
 * Row 3: the hit path — viewer-request function, cache key, edge cache — under
 * autocannon on loopback. Latencies are taken from every response at full
 * resolution (autocannon's own histogram keeps whole milliseconds).
 */
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import os from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import type { LoadReport } from '../cdn-child.js';
import type { BenchContext, BenchRow } from '../lib/context.js';
import { timedGet } from '../lib/http.js';
import { figure, type RowResult } from '../lib/report.js';
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

export function hitRow(ctx: BenchContext): BenchRow {
  return { ids: [3], run: (roundIndex) => hitRound(ctx, roundIndex) };
}

async function hitRound(ctx: BenchContext, roundIndex: number): Promise<RowResult> {
  const duration = ctx.quick ? 3 : 6;
  const url = `${ctx.cdnInfo.url}/${ctx.inputs.photo2560.key}?${MISS_QUERY}`;
  await timedGet(url);
  const first = await timedGet(url);
  if (!String(first.headers['x-cache']).startsWith('Hit')) throw new Error(`expected a hit for ${url}`);
  ctx.progress(`row 3 (round ${roundIndex + 1}): autocannon, ${CONNECTIONS} connections, ${duration} s (+1 s warm-up)`);
  await autocannon({ url, connections: CONNECTIONS, duration: 1 });

  const latencies: number[] = [];
  let non200 = 0;
  // Who used the CPU meanwhile: autocannon shares this process and the machine's cores with the server.
  const loadBefore = os.loadavg()[0] ?? 0;
  await ctx.cdn.call('loadStart');
  const clientCpu = process.cpuUsage();
  const clientGc: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) clientGc.push(entry.duration);
  });
  observer.observe({ entryTypes: ['gc'] });
  const wallStart = performance.now();
  const instance = autocannon({ url, connections: CONNECTIONS, duration });
  instance.on('response', (_client, status, _bytes, responseTime) => {
    if (status === 200) latencies.push(responseTime);
    else non200 += 1;
  });
  const result = await instance;
  const wall = performance.now() - wallStart;
  const client = process.cpuUsage(clientCpu);
  observer.disconnect();
  const server = await ctx.cdn.call<LoadReport>('loadStop');
  const clientCores = (client.user + client.system) / 1000 / wall;
  const serverCores = server.cpuMs / server.wallMs;
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  const rps = latencies.length / duration;
  const cores = os.availableParallelism();
  return {
    id: 3,
    title: `Hit path (local CDN), autocannon ${CONNECTIONS} connections × ${duration} s`,
    lines: [
      figure('p50', p50, ms),
      figure('p99', p99, ms, { target: '≤ 5 ms', check: (v) => v <= 5 }),
      figure('throughput', rps, (v) => `${Math.round(v).toLocaleString('en-US')} req/s`),
      figure('CPU: server process / client (autocannon)', serverCores, (v) => `${v.toFixed(2)} cores`, {
        peerName: 'client',
        peerValue: clientCores,
        noRatio: true,
      }),
      figure('GC pauses in the server: total / longest', server.gcTotalMs, ms, {
        peerName: 'longest',
        peerValue: server.gcMaxMs,
        noRatio: true,
      }),
    ],
    notes: [
      `Closed loop: mean latency = ${CONNECTIONS} connections ÷ throughput = ${ms((CONNECTIONS * 1000) / rps)}; p99 ÷ mean = ` +
        `${(p99 / ((CONNECTIONS * 1000) / rps)).toFixed(1)} (the shape of the tail: a uniformly slower machine raises p99 and the ` +
        'mean together and leaves this ratio alone; a real tail, e.g. GC, raises it).',
      `${latencies.length} responses of ${first.bytes} B, ${non200} not 200, ${result.errors} errors; client and server are ` +
        `separate processes on ${cores} cores. Together they used ${(serverCores + clientCores).toFixed(2)} of ${cores} cores ` +
        `(load average ${loadBefore.toFixed(2)} before): what is left over goes to the rest of the machine, and any excess ` +
        `shows in the tail. Server GC: ${server.gcCount} pauses; client GC ${round(clientGc.reduce((a, b) => a + b, 0))} ms.`,
    ],
    data: {
      connections: CONNECTIONS,
      durationSeconds: duration,
      responses: latencies.length,
      p50Ms: round(p50, 3),
      p90Ms: round(percentile(latencies, 90), 3),
      p99Ms: round(p99, 3),
      p999Ms: round(percentile(latencies, 99.9), 3),
      maxMs: round(Math.max(...latencies), 3),
      requestsPerSecond: Math.round(rps),
      errors: result.errors + non200,
      serverCores: round(serverCores, 3),
      clientCores: round(clientCores, 3),
      serverGc: { count: server.gcCount, totalMs: round(server.gcTotalMs), maxMs: round(server.gcMaxMs) },
      clientGcMs: round(clientGc.reduce((a, b) => a + b, 0)),
      loadAverageBefore: round(loadBefore),
      p99OverMean: round(p99 / ((CONNECTIONS * 1000) / rps), 2),
    },
  };
}
