/**
 * Row 3: the hit path — viewer-request function, cache key, edge cache — on
 * loopback, with the load generator of bench/lib/loadgen.ts in a process of
 * its own (bench/loadgen-child.ts). Two loads, one after the other, each round:
 *   - paced: a fixed offered rate (`PACED_RATE`), below what this machine
 *     saturates at, latency of every response at full resolution — the
 *     target's measurement;
 *   - closed: 10 connections as fast as they go — the saturated throughput,
 *     and the server's CPU per hit, which does not depend on the load.
 * Why not autocannon: see bench/lib/loadgen.ts.
 */
import os from 'node:os';
import type { LoadReport } from '../cdn-child.js';
import { type Child, forkChild } from '../lib/child.js';
import type { BenchContext, BenchRow } from '../lib/context.js';
import { timedGet } from '../lib/http.js';
import type { LoadOptions, LoadResult } from '../lib/loadgen.js';
import { figure, type RowResult } from '../lib/report.js';
import { ms, percentile, round } from '../lib/stats.js';
import { MISS_QUERY } from './miss.js';

const CONNECTIONS = 10;
/**
 * The paced load: what the row's earlier, autocannon-driven closed loop
 * reached (3,450–3,900 req/s), so the target is not held at a lighter load
 * than before; a sixth to a half of what the saturated loop now reaches on the
 * 2-core machine of docs/bench.md, so the latency is the hit's own plus what a
 * busy machine adds, not a queue the load built.
 */
export const PACED_RATE = 4000;

export function hitRow(ctx: BenchContext): BenchRow {
  let loadgen: Child | undefined;
  let plain: Child | undefined;
  return {
    ids: [3],
    run: (roundIndex) => {
      loadgen ??= forkChild(new URL('../loadgen-child.ts', import.meta.url));
      plain ??= forkChild(new URL('../plain-http-child.ts', import.meta.url));
      return hitRound(ctx, loadgen, plain, roundIndex);
    },
    close: async () => {
      await loadgen?.close();
      await plain?.close();
    },
  };
}

interface Measured {
  load: LoadResult;
  server: LoadReport;
}

async function measure(ctx: BenchContext, loadgen: Child, options: LoadOptions): Promise<Measured> {
  await ctx.cdn.call('loadStart');
  const load = await loadgen.call<LoadResult>('run', options);
  const server = await ctx.cdn.call<LoadReport>('loadStop');
  return { load, server };
}

async function hitRound(ctx: BenchContext, loadgen: Child, plain: Child, roundIndex: number): Promise<RowResult> {
  const seconds = ctx.quick ? 3 : 6;
  const url = `${ctx.cdnInfo.url}/${ctx.inputs.photo2560.key}?${MISS_QUERY}`;
  await timedGet(url);
  const first = await timedGet(url);
  if (!String(first.headers['x-cache']).startsWith('Hit')) throw new Error(`expected a hit for ${url}`);
  ctx.progress(
    `row 3 (round ${roundIndex + 1}): ${seconds} s paced at ${PACED_RATE} req/s, then ${seconds} s closed loop, ` +
      `${CONNECTIONS} connections (+1 s warm-up)`,
  );
  await loadgen.call('run', { url, connections: CONNECTIONS, durationMs: 1000, mode: 'closed' } satisfies LoadOptions);

  const loadBefore = os.loadavg()[0] ?? 0;
  const paced = await measure(ctx, loadgen, {
    url,
    connections: CONNECTIONS,
    durationMs: seconds * 1000,
    mode: 'paced',
    rate: PACED_RATE,
  });
  // The floor: the same paced load against a plain node:http server sending the same bytes and headers.
  const plainUrl = await plain.call<string>('start', { bytes: first.bytes, headers: plainHeaders(first.headers) });
  const floor = await loadgen.call<LoadResult>('run', {
    url: plainUrl,
    connections: CONNECTIONS,
    durationMs: seconds * 1000,
    mode: 'paced',
    rate: PACED_RATE,
  } satisfies LoadOptions);
  await plain.call('close');
  const floorP99 = percentile(floor.latencies, 99);
  const closed = await measure(ctx, loadgen, {
    url,
    connections: CONNECTIONS,
    durationMs: seconds * 1000,
    mode: 'closed',
  });

  const p50 = percentile(paced.load.latencies, 50);
  const p99 = percentile(paced.load.latencies, 99);
  const closedP50 = percentile(closed.load.latencies, 50);
  const closedP99 = percentile(closed.load.latencies, 99);
  const rps = closed.load.responses / (closed.load.wallMs / 1000);
  const achieved = paced.load.responses / (paced.load.wallMs / 1000);
  const cpuPerHit = (run: Measured) => (run.server.cpuMs * 1000) / Math.max(1, run.load.responses);
  const clientPerHit = (run: Measured) => (run.load.cpuMs * 1000) / Math.max(1, run.load.responses);
  const cores = (cpuMs: number, wallMs: number) => cpuMs / wallMs;
  const serverCores = cores(closed.server.cpuMs, closed.server.wallMs);
  const clientCores = cores(closed.load.cpuMs, closed.load.wallMs);
  const errors = paced.load.errors + paced.load.non200 + closed.load.errors + closed.load.non200;
  const machineCores = os.availableParallelism();
  const lag = paced.load.lag ?? { p50: 0, p99: 0, max: 0 };
  return {
    id: 3,
    title: `Hit path (local CDN), ${CONNECTIONS} connections: paced at ${PACED_RATE.toLocaleString('en-US')} req/s, and saturated`,
    lines: [
      figure(`p50 at ${PACED_RATE.toLocaleString('en-US')} req/s`, p50, ms),
      figure(`p99 at ${PACED_RATE.toLocaleString('en-US')} req/s`, p99, ms, { target: '≤ 5 ms', check: (v) => v <= 5 }),
      figure(
        `p99 at ${PACED_RATE.toLocaleString('en-US')} req/s vs a plain node:http server sending the same bytes`,
        p99,
        ms,
        {
          peerName: 'plain',
          peerValue: floorP99,
        },
      ),
      figure('throughput, saturated (closed loop)', rps, (v) => `${Math.round(v).toLocaleString('en-US')} req/s`),
      figure('server CPU per hit: paced / saturated', cpuPerHit(paced), (v) => `${Math.round(v)} µs`, {
        peerName: 'saturated',
        peerValue: cpuPerHit(closed),
        noRatio: true,
      }),
      figure('CPU, saturated: server process / load generator', serverCores, (v) => `${v.toFixed(2)} cores`, {
        peerName: 'client',
        peerValue: clientCores,
        noRatio: true,
      }),
      figure(
        'time the server waited for a CPU, paced: server / load generator',
        (100 * paced.server.runQueueMs) / paced.server.wallMs,
        (v) => `${v.toFixed(1)}%`,
        { peerName: 'client', peerValue: (100 * paced.load.runQueueMs) / paced.load.wallMs, noRatio: true },
      ),
      figure('GC pauses in the server, paced: total / longest', paced.server.gcTotalMs, ms, {
        peerName: 'longest',
        peerValue: paced.server.gcMaxMs,
        noRatio: true,
      }),
      figure('longest event-loop stall, paced: server / load generator', paced.server.loopDelayMaxMs, ms, {
        peerName: 'client',
        peerValue: paced.load.loopDelay.max,
        noRatio: true,
      }),
    ],
    notes: [
      `Paced (the target's load): an open loop, ${paced.load.offered?.requests ?? 0} requests due at ${PACED_RATE} req/s over ` +
        `${CONNECTIONS} connections, ${Math.round(achieved)} req/s answered; a request sent on time is timed from its send ` +
        `(the client's timer sent them ${ms(lag.p50)} late at the median, ${ms(lag.p99)} at p99), one that found its ` +
        `connection busy (${paced.load.queued ?? 0} of them) from when it was due, so a stall counts for all it held up.`,
      `Floor: the same paced load, right after, against a plain node:http server in its own process answering every ` +
        `request with the same ${first.bytes} bytes and headers (no viewer function, cache or routing): p50 ` +
        `${ms(percentile(floor.latencies, 50))}, p99 ${ms(floorP99)}. What that server's p99 is, this machine allows any Node server now.`,
      `Saturated: closed loop, each connection sends when its last answer is complete: ${Math.round(rps)} req/s, ` +
        `p50 ${ms(closedP50)}, p99 ${ms(closedP99)} (= ${CONNECTIONS} ÷ throughput plus queueing, no target). Server CPU per ` +
        `hit ${Math.round(cpuPerHit(closed))} µs (paced ${Math.round(cpuPerHit(paced))} µs: fewer requests per event-loop turn), ` +
        `load generator ${Math.round(clientPerHit(closed))} µs per response, in its own process.`,
      `While paced, the server's main thread waited ${ms(paced.server.runQueueMs)} for a CPU (runnable, on the run ` +
        `queue) and the load generator's ${ms(paced.load.runQueueMs)}, of ${ms(paced.load.wallMs)}; a hit that arrives ` +
        `then waits with it. On a shared 2-core machine that wait, not the ${Math.round(cpuPerHit(paced))} µs of work ` +
        'per hit, is what a tail of milliseconds is made of.',
      `${closed.load.responses + paced.load.responses} responses of ${first.bytes} B, ${errors} errors or not 200; server, ` +
        `load generator and the bench are separate processes on ${machineCores} cores, which they share with the rest of the ` +
        `machine (load average ${loadBefore.toFixed(2)} before). Server GC while paced: ${paced.server.gcCount} pauses.`,
    ],
    data: {
      connections: CONNECTIONS,
      durationSeconds: seconds,
      paced: {
        rate: PACED_RATE,
        requests: paced.load.offered?.requests ?? 0,
        responses: paced.load.responses,
        achievedRate: Math.round(achieved),
        p50Ms: round(p50, 3),
        p90Ms: round(percentile(paced.load.latencies, 90), 3),
        p99Ms: round(p99, 3),
        p999Ms: round(percentile(paced.load.latencies, 99.9), 3),
        maxMs: round(Math.max(...paced.load.latencies), 3),
        queued: paced.load.queued ?? 0,
        serverRunQueueMs: round(paced.server.runQueueMs, 1),
        clientRunQueueMs: round(paced.load.runQueueMs, 1),
        timerLagMs: { p50: round(lag.p50, 3), p99: round(lag.p99, 3), max: round(lag.max, 3) },
        serverCpuUsPerHit: round(cpuPerHit(paced), 1),
        serverCores: round(cores(paced.server.cpuMs, paced.server.wallMs), 3),
        clientCores: round(cores(paced.load.cpuMs, paced.load.wallMs), 3),
        serverGc: {
          count: paced.server.gcCount,
          totalMs: round(paced.server.gcTotalMs),
          maxMs: round(paced.server.gcMaxMs),
        },
        plainHttpP99Ms: round(floorP99, 3),
        plainHttpP50Ms: round(percentile(floor.latencies, 50), 3),
        plainHttpRunLoadgenStallMaxMs: round(floor.loopDelay.max, 2),
        loopDelayMs: {
          server: { p99: round(paced.server.loopDelayP99Ms, 2), max: round(paced.server.loopDelayMaxMs, 2) },
          client: { p99: round(paced.load.loopDelay.p99, 2), max: round(paced.load.loopDelay.max, 2) },
        },
      },
      closed: {
        responses: closed.load.responses,
        requestsPerSecond: Math.round(rps),
        p50Ms: round(closedP50, 3),
        p99Ms: round(closedP99, 3),
        serverCpuUsPerHit: round(cpuPerHit(closed), 1),
        clientCpuUsPerResponse: round(clientPerHit(closed), 1),
        serverCores: round(serverCores, 3),
        clientCores: round(clientCores, 3),
        serverRunQueueMs: round(closed.server.runQueueMs, 1),
        clientRunQueueMs: round(closed.load.runQueueMs, 1),
        serverGc: {
          count: closed.server.gcCount,
          totalMs: round(closed.server.gcTotalMs),
          maxMs: round(closed.server.gcMaxMs),
        },
      },
      errors,
      loadAverageBefore: round(loadBefore),
    },
  };
}

/** What a hit answers with, minus what node:http writes itself (Date, Connection, Keep-Alive, Content-Length). */
function plainHeaders(headers: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (/^(date|connection|keep-alive|content-length|transfer-encoding)$/i.test(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}
