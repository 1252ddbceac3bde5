/**
 * Distance on loopback: an HTTP proxy that holds every request and every
 * answer for half a round-trip time each (plus optional jitter), and the
 * first request of each new connection for `connectRoundTrips` more round
 * trips (what a cold container's TCP and TLS handshakes cost before its first
 * byte). Put in front of s3rver, the SSM stand-in or the API, it makes a
 * loopback call cost what the same call costs from a regional edge cache to
 * us-east-1, and it logs every call with its start and end, so a row can say
 * how many round trips a request made one after the other
 * (`sequentialRoundTrips`), which the machine's load does not change.
 *
 * Bodies are buffered both ways: the proxy models latency, not bandwidth.
 * It listens on 127.0.0.1 only and forwards to one target.
 */
import { Agent, createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ProxyCall {
  /** Which proxy saw it ("s3", "ssm", "api", "origin"). */
  via: string;
  method: string;
  path: string;
  status: number;
  /** `performance.now()` when the request reached the proxy, and when its answer had been written back. */
  start: number;
  end: number;
  /** The first request of a connection: it paid the handshakes' round trips. */
  newConnection: boolean;
  /** Round trips its connection's handshakes cost before it (0 on a reused connection). */
  handshakeRoundTrips: number;
  /** Sent `Expect: 100-continue`: its body waited one round trip for the go-ahead. */
  expectContinue: boolean;
}

export interface DelaySettings {
  /** Round-trip time in ms: half before the request is forwarded, half before the answer is sent. */
  rttMs: number;
  /** Up to this many ms more on each half, uniformly at random. @default 0 */
  jitterMs?: number;
  /** Round trips a new connection pays before its first request (TCP, TLS). @default 1 */
  connectRoundTrips?: number;
}

export interface LatencyProxyOptions extends DelaySettings {
  via: string;
  /** Where requests go: `http://127.0.0.1:port`. */
  target: string;
  /** Every call is appended here (shared by the proxies of one harness). */
  log: ProxyCall[];
  /** Send the target's own host in `Host` (for URLs signed for the target), instead of the client's. @default false */
  targetHost?: boolean;
  /** Rewrites an answer's body (for example URLs of the target that must point back at the proxy). */
  rewriteBody?: (body: Buffer, contentType: string | undefined) => Buffer;
}

export interface LatencyProxy {
  url: string;
  /** Changes the delays for the calls that start from now on. */
  set(settings: DelaySettings): void;
  close(): Promise<void>;
}

/** The headers a proxy recomputes rather than forwards. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);

export async function startLatencyProxy(options: LatencyProxyOptions): Promise<LatencyProxy> {
  let settings: Required<DelaySettings> = { jitterMs: 0, connectRoundTrips: 1, ...pickSettings(options) };
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const fresh = new WeakSet<Socket>();
  const sockets = new Set<Socket>();

  const half = () => settings.rttMs / 2 + Math.random() * settings.jitterMs;

  const server: Server = createServer((req, res) => void handle(req, res, performance.now(), false, isFresh(req)));
  // S3 answers `100 Continue` from afar too: the body leaves one round trip after the headers.
  server.on('checkContinue', (req, res) => {
    const start = performance.now();
    const newConnection = isFresh(req);
    void sleep(settings.rttMs + (newConnection ? settings.connectRoundTrips * settings.rttMs : 0)).then(() => {
      res.writeContinue();
      void handle(req, res, start, true, newConnection);
    });
  });

  /** Whether this is the first request of its connection (asked once per request). */
  function isFresh(req: IncomingMessage): boolean {
    const first = fresh.has(req.socket);
    fresh.delete(req.socket);
    return first;
  }

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
    expectContinue: boolean,
    newConnection: boolean,
  ) {
    try {
      const body = await readAll(req);
      // After a `100 Continue` the request's half and any handshake were paid before it.
      if (!expectContinue) await sleep(half() + (newConnection ? settings.connectRoundTrips * settings.rttMs : 0));
      else await sleep(half());
      const answer = await forward(req, body);
      await sleep(half());
      let payload = answer.body;
      if (options.rewriteBody) payload = options.rewriteBody(payload, answer.headers['content-type'] as string);
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      }
      if (req.method !== 'HEAD') headers['content-length'] = String(payload.length);
      else if (answer.headers['content-length']) headers['content-length'] = answer.headers['content-length'];
      res.writeHead(answer.status, headers);
      res.on('finish', () =>
        options.log.push({
          via: options.via,
          method: req.method ?? 'GET',
          path: req.url ?? '/',
          status: answer.status,
          start,
          end: performance.now(),
          newConnection,
          handshakeRoundTrips: newConnection ? settings.connectRoundTrips : 0,
          expectContinue,
        }),
      );
      res.end(req.method === 'HEAD' ? undefined : payload);
    } catch {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('latency proxy: the target did not answer');
    }
  }
  server.on('connection', (socket: Socket) => {
    fresh.add(socket);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  function forward(req: IncomingMessage, body: Buffer) {
    return new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>((resolve, reject) => {
      const headers = { ...req.headers };
      delete headers.connection;
      if (options.targetHost) headers.host = target.host;
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
        async (answer) => {
          try {
            resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: await readAll(answer) });
          } catch (error) {
            reject(error);
          }
        },
      );
      upstream.on('error', reject);
      upstream.end(body.length > 0 ? body : undefined);
    });
  }

  return {
    url: `http://127.0.0.1:${port}`,
    set(next) {
      settings = { jitterMs: 0, connectRoundTrips: 1, ...pickSettings(next) };
    },
    async close() {
      agent.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function pickSettings(source: DelaySettings): DelaySettings {
  const picked: DelaySettings = { rttMs: source.rttMs };
  if (source.jitterMs !== undefined) picked.jitterMs = source.jitterMs;
  if (source.connectRoundTrips !== undefined) picked.connectRoundTrips = source.connectRoundTrips;
  return picked;
}

/**
 * How many round trips the calls made one after another: the heaviest chain of
 * calls none of which overlaps the next (a call on a new connection weighs its
 * handshakes too). Calls made in parallel overlap, so they count once.
 */
export function sequentialRoundTrips(calls: readonly ProxyCall[]): number {
  const sorted = [...calls].sort((a, b) => a.end - b.end);
  const weight = (call: ProxyCall) => 1 + call.handshakeRoundTrips + (call.expectContinue ? 1 : 0);
  // best[i]: the heaviest chain ending with sorted[i] (weighted interval scheduling).
  const best: number[] = [];
  let heaviest = 0;
  sorted.forEach((call, i) => {
    let before = 0;
    for (let j = 0; j < i; j += 1) {
      const earlier = sorted[j] as ProxyCall;
      if (earlier.end <= call.start) before = Math.max(before, best[j] as number);
    }
    best[i] = before + weight(call);
    heaviest = Math.max(heaviest, best[i] as number);
  });
  return heaviest;
}

/** The calls as one line each, times relative to `origin`: "s3 GET /bucket/key 200 +0–81 ms". */
export function describeCalls(calls: readonly ProxyCall[], origin: number): string[] {
  return [...calls]
    .sort((a, b) => a.start - b.start)
    .map(
      (call) =>
        `${call.via} ${call.method} ${call.path.split('?')[0]} ${call.status} +${(call.start - origin).toFixed(0)}–${(call.end - origin).toFixed(0)} ms${call.newConnection ? ' (new connection)' : ''}${call.expectContinue ? ' (100-continue)' : ''}`,
    );
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

const sleep = (ms: number) => (ms > 0 ? new Promise<void>((resolve) => setTimeout(resolve, ms)) : Promise.resolve());
