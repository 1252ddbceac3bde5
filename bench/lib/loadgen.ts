/**
 * The hit row's load generator: keep-alive HTTP/1.1 GETs of one URL over raw
 * sockets, one request in flight per connection, responses framed by their
 * Content-Length and counted, never decoded. It replaces autocannon there
 * because autocannon 9 appends every body chunk to a string (`req.body +=
 * data`): a UTF-8 decode of each 11 kB WebP, more CPU per response than the
 * server spends on the hit, on a machine of 2 cores that both share.
 *
 * Two modes:
 *   - `closed`: each connection sends its next request when the previous
 *     answer is complete, as fast as the server and this client allow (the
 *     saturated throughput; its latency is queueing as much as service);
 *   - `paced`: an open loop at a fixed offered rate, request i due at
 *     start + i / rate, spread over the connections in turn. A request sent
 *     on time is timed from its send (the timer's own lateness, ≤ 1 ms, is
 *     reported apart as lag); one that waited for its connection to be free
 *     is timed from when it was due, so a server stall counts for every
 *     request it held up (no coordinated omission).
 */
import { connect, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { runQueueMs } from './schedstat.js';

export interface LoadOptions {
  url: string;
  connections: number;
  durationMs: number;
  mode: 'closed' | 'paced';
  /** Requests per second over all connections (`paced`). */
  rate?: number;
  headers?: Record<string, string>;
}

export interface LoadResult {
  mode: 'closed' | 'paced';
  /** Latency of every 200, ms, in completion order. */
  latencies: number[];
  responses: number;
  non200: number;
  errors: number;
  /** Bytes of the last body (to check it is the image). */
  bodyBytes: number;
  wallMs: number;
  /** This process's CPU during the run, ms (user + system). */
  cpuMs: number;
  /** How long this process's main thread waited for a CPU during the run, ms (bench/lib/schedstat.ts). */
  runQueueMs: number;
  /** This process's event-loop lateness during the run (1 ms resolution), ms: a stall here delays the responses it reads. */
  loopDelay: { p99: number; max: number };
  /** `paced`: how late the timer sent requests that were due on a free connection, ms (p50, p99, max). */
  lag?: { p50: number; p99: number; max: number };
  /** `paced`: requests that had to wait for their connection, which was still busy when they were due. */
  queued?: number;
  /** `paced`: the offered rate, and the requests due in the run (all of them are sent). */
  offered?: { rate: number; requests: number };
}

const HEADER_END = Buffer.from('\r\n\r\n');

interface Connection {
  socket: Socket;
  busy: boolean;
  /** When the request in flight was sent (or due, if it waited): its latency is measured from here. */
  from: number;
  /** Requests due while this connection was busy, oldest first (their due times). */
  backlog: number[];
  pending: Buffer;
  /** Body bytes still to come for the response being read, or -1 before its head. */
  remaining: number;
  status: number;
  bodyBytes: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const target = new URL(options.url);
  if (target.protocol !== 'http:') throw new Error('the load generator speaks plain HTTP/1.1');
  const port = Number(target.port || 80);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const head = [`GET ${target.pathname}${target.search} HTTP/1.1`, `Host: ${target.host}`];
  for (const [name, value] of Object.entries(options.headers ?? {})) head.push(`${name}: ${value}`);
  const request = Buffer.from(`${head.join('\r\n')}\r\n\r\n`);
  const paced = options.mode === 'paced';
  if (paced && !(options.rate && options.rate > 0)) throw new Error('a paced load needs a rate');

  const latencies: number[] = [];
  const lags: number[] = [];
  let non200 = 0;
  let errors = 0;
  let lastBody = 0;
  let queued = 0;
  let stopping = false;
  let inFlight = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));

  const send = (connection: Connection, from: number) => {
    connection.busy = true;
    connection.from = from;
    connection.remaining = -1;
    inFlight += 1;
    connection.socket.write(request);
  };

  const completed = (connection: Connection) => {
    const end = performance.now();
    inFlight -= 1;
    connection.busy = false;
    if (connection.status === 200) latencies.push(end - connection.from);
    else non200 += 1;
    lastBody = connection.bodyBytes;
    const waiting = connection.backlog.shift();
    if (waiting !== undefined) send(connection, waiting);
    else if (!paced && !stopping) send(connection, performance.now());
    if (stopping && inFlight === 0) finish();
  };

  const onData = (connection: Connection, chunk: Buffer) => {
    let data = connection.pending.length ? Buffer.concat([connection.pending, chunk]) : chunk;
    while (data.length > 0) {
      if (connection.remaining < 0) {
        const end = data.indexOf(HEADER_END);
        if (end === -1) break;
        const headText = data.subarray(0, end).toString('latin1');
        connection.status = Number(headText.slice(9, 12));
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(headText);
        if (!length) throw new Error('the load generator needs responses with a Content-Length');
        connection.remaining = Number(length[1]);
        connection.bodyBytes = connection.remaining;
        data = data.subarray(end + HEADER_END.length);
      }
      const take = Math.min(connection.remaining, data.length);
      connection.remaining -= take;
      data = data.subarray(take);
      if (connection.remaining === 0) {
        connection.remaining = -1;
        completed(connection);
      }
    }
    connection.pending = data.length ? Buffer.from(data) : Buffer.alloc(0);
  };

  const open = (): Promise<Connection> =>
    new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      const connection: Connection = {
        socket,
        busy: false,
        from: 0,
        backlog: [],
        pending: Buffer.alloc(0),
        remaining: -1,
        status: 0,
        bodyBytes: 0,
      };
      socket.once('connect', () => resolve(connection));
      socket.once('error', reject);
      socket.on('data', (chunk: Buffer) => {
        try {
          onData(connection, chunk);
        } catch (error) {
          socket.destroy(error as Error);
        }
      });
      socket.on('close', () => {
        if (connection.busy) {
          // A connection lost mid-request: counted, and the run goes on without it.
          errors += 1;
          inFlight -= 1;
          connection.busy = false;
          errors += connection.backlog.length;
          connection.backlog = [];
          if (stopping && inFlight === 0) finish();
        }
      });
    });

  const connections = await Promise.all(Array.from({ length: options.connections }, open));
  const cpu = process.cpuUsage();
  const runQueue = runQueueMs();
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let due = 0;
  const total = paced ? Math.floor(((options.rate as number) * options.durationMs) / 1000) : 0;

  const stop = () => {
    stopping = true;
    if (timer) clearTimeout(timer);
    if (inFlight === 0) finish();
  };

  if (paced) {
    const interval = 1000 / (options.rate as number);
    // Sends every request now due, then sleeps until the next one is.
    const tick = () => {
      const now = performance.now();
      while (due < total && start + due * interval <= now) {
        const dueAt = start + due * interval;
        const connection = connections[due % connections.length] as Connection;
        due += 1;
        if (connection.socket.destroyed) {
          errors += 1;
          continue;
        }
        if (connection.busy) {
          queued += 1;
          connection.backlog.push(dueAt);
        } else {
          lags.push(now - dueAt);
          send(connection, now);
        }
      }
      if (due >= total) return stop();
      timer = setTimeout(tick, Math.max(0, start + due * interval - performance.now()));
    };
    tick();
  } else {
    for (const connection of connections) send(connection, performance.now());
    timer = setTimeout(stop, options.durationMs);
  }
  await done;
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  loopDelay.disable();
  for (const connection of connections) connection.socket.destroy();

  const sortedLags = lags.sort((a, b) => a - b);
  const at = (p: number) =>
    sortedLags[Math.min(sortedLags.length - 1, Math.ceil((p / 100) * sortedLags.length) - 1)] ?? 0;
  return {
    mode: options.mode,
    latencies,
    responses: latencies.length + non200,
    non200,
    errors,
    bodyBytes: lastBody,
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    runQueueMs: runQueueMs() - runQueue,
    loopDelay: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    ...(paced
      ? {
          lag: { p50: at(50), p99: at(99), max: sortedLags.at(-1) ?? 0 },
          queued,
          offered: { rate: options.rate as number, requests: total },
        }
      : {}),
  };
}
