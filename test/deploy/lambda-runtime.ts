/**
 * A harness shaped like the Lambda Node.js runtime and a function URL in
 * `RESPONSE_STREAM` mode, for calling a packaged API zip as AWS calls it. It
 * follows aws-lambda-nodejs-runtime-interface-client (read as a reference):
 *
 * - `awslambda` is defined before the handler module loads, as the runtime's
 *   `_loadUserApp` does: `streamifyResponse` marks the handler with
 *   `Symbol.for('aws.lambda.runtime.handler.streaming') = 'response'`, and
 *   `HttpResponseStream.from` sets the content type
 *   `application/vnd.awslambda.http-integration-response` and arranges for the
 *   JSON prelude and 8 NUL bytes to be written before the first `write()`.
 * - The response stream is what the runtime hands over: a chunked HTTP request
 *   to the runtime API (here a loopback server), of which only the Writable
 *   and EventEmitter members and `setContentType` are exposed; `write()` is
 *   the only way to the prelude, `end(chunk)` drops the chunk's prelude as
 *   the runtime's does, `setContentType` after the first write throws.
 * - The handler must return a promise, and the stream must be finished when
 *   it settles; otherwise the invocation fails ("Response stream is not
 *   finished."), reported in the error trailers.
 *
 * The function URL side ("Invoking Lambda function URLs", "Response
 * streaming"): the request becomes a payload-format-2.0 event (lower-case
 * headers, `cookies`, `rawPath`, `rawQueryString`, `requestContext.http`, a
 * binary body base64 with `isBase64Encoded: true`, a text body as UTF-8), an
 * event over 6 MB is refused with 413 before the function runs, and the
 * response is framed from the prelude: status, headers, cookies, then the body.
 */
import { randomUUID } from 'node:crypto';
import { Agent, createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const DELIMITER = new Uint8Array(8);
/**
 * "Lambda quotas": an invocation payload of 6 MB. The page does not say 10⁶ or
 * 2²⁰ bytes; the harness takes the smaller, so it is never kinder than AWS.
 */
export const FUNCTION_URL_MAX_EVENT_BYTES = 6_000_000;
/** Content types a function URL hands over as text, not base64 ("Invoking Lambda function URLs"). */
const TEXT_TYPE = /^(text\/|application\/(json|javascript|xml|x-www-form-urlencoded)\b)|\+(json|xml)\b/i;

// biome-ignore lint/suspicious/noExplicitAny: the runtime's handler signature is untyped JavaScript
type AnyHandler = (event: any, responseStream: any, context: any) => unknown;

interface RuntimeGlobal {
  streamifyResponse(handler: AnyHandler, options?: { highWaterMark?: number }): AnyHandler;
  HttpResponseStream: { from(stream: ResponseStream, prelude: unknown): ResponseStream };
}

/** The members of the runtime's response stream the handler may use. */
export interface ResponseStream {
  write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean;
  end(callback?: unknown): unknown;
  setContentType(contentType: string): void;
  destroy(error?: Error): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  readonly writableFinished: boolean;
  readonly writableEnded: boolean;
  _onBeforeFirstWrite?: (write: (chunk: unknown) => void) => void;
}

/**
 * Defines `awslambda` as the runtime does before loading user code, replacing
 * whatever is there; returns a function that puts the previous one back.
 */
export function installRuntimeGlobal(): () => void {
  const holder = globalThis as { awslambda?: unknown };
  const previous = holder.awslambda;
  const runtime: RuntimeGlobal = {
    streamifyResponse(handler) {
      (handler as unknown as Record<symbol, unknown>)[STREAMING] = 'response';
      return handler;
    },
    HttpResponseStream: {
      from(stream, prelude) {
        stream.setContentType(HTTP_INTEGRATION);
        const json = JSON.stringify(prelude);
        stream._onBeforeFirstWrite = (write) => {
          write(json);
          write(DELIMITER);
        };
        return stream;
      },
    },
  };
  holder.awslambda = runtime;
  return () => {
    holder.awslambda = previous;
  };
}

export interface FunctionUrlRequest {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface FunctionUrlResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  cookies: string[];
  body: Buffer;
  /** `write()` calls the handler made on the response stream (more than one: the body was streamed). */
  writes: number;
  /** The invocation failed after the prelude went out: the client saw a cut response. */
  truncated: boolean;
  /** The runtime's error type, when the invocation failed. */
  error?: string;
}

/** A function URL 2.0 event for `req`, as the service builds it. */
export function functionUrlEvent(req: FunctionUrlRequest) {
  const queryAt = req.url.indexOf('?');
  const rawPath = queryAt === -1 ? req.url : req.url.slice(0, queryAt);
  const rawQueryString = queryAt === -1 ? '' : req.url.slice(queryAt + 1);
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower === 'cookie') cookies = value.split(';').map((c) => c.trim());
    else headers[lower] = headers[lower] === undefined ? value : `${headers[lower]},${value}`;
  }
  let queryStringParameters: Record<string, string> | undefined;
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    queryStringParameters ??= {};
    queryStringParameters[name] =
      queryStringParameters[name] === undefined ? value : `${queryStringParameters[name]},${value}`;
  }
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  const text = TEXT_TYPE.test(headers['content-type'] ?? '');
  const now = new Date();
  const domainName = 'abcdefghij1234567890.lambda-url.us-east-1.on.aws';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    ...(cookies ? { cookies } : {}),
    headers: { host: domainName, 'x-forwarded-proto': 'https', ...headers },
    ...(queryStringParameters ? { queryStringParameters } : {}),
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abcdefghij1234567890',
      domainName,
      domainPrefix: 'abcdefghij1234567890',
      http: {
        method: req.method,
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.7',
        userAgent: headers['user-agent'] ?? 'deploy-test',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body && body.length > 0
      ? { body: text ? body.toString('utf8') : body.toString('base64'), isBase64Encoded: !text }
      : { isBase64Encoded: false }),
  };
}

interface Received {
  contentType: string;
  body: Buffer;
  trailers: Record<string, string>;
}

/**
 * Calls a streaming handler through a function URL: build the event, refuse it
 * over 6 MB, run the handler as the runtime does, frame its bytes.
 */
export interface FunctionUrl {
  invoke(req: FunctionUrlRequest): Promise<FunctionUrlResponse>;
  close(): Promise<void>;
}

export async function startFunctionUrl(handler: AnyHandler): Promise<FunctionUrl> {
  if ((handler as unknown as Record<symbol, unknown>)[STREAMING] !== 'response') {
    throw new Error('Expected a handler marked by awslambda.streamifyResponse');
  }
  // The runtime API: each invocation's response arrives as one chunked POST.
  const pending = new Map<string, (received: Received) => void>();
  const rapid: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const id = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/response$/.exec(req.url ?? '')?.[1] ?? '';
      pending.get(id)?.({
        contentType: String(req.headers['content-type']),
        body: Buffer.concat(chunks),
        trailers: req.trailers as Record<string, string>,
      });
      pending.delete(id);
      res.writeHead(202).end('{"status":"OK"}');
    });
  });
  await new Promise<void>((resolve) => rapid.listen(0, '127.0.0.1', resolve));
  const port = (rapid.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true });

  async function invoke(req: FunctionUrlRequest): Promise<FunctionUrlResponse> {
    const event = functionUrlEvent(req);
    if (Buffer.byteLength(JSON.stringify(event)) > FUNCTION_URL_MAX_EVENT_BYTES) {
      // The function URL's own refusal; the function never runs.
      const body = Buffer.from(
        JSON.stringify({ Message: `Request must be smaller than ${FUNCTION_URL_MAX_EVENT_BYTES} bytes` }),
      );
      return {
        status: 413,
        headers: { 'content-type': 'application/json' },
        cookies: [],
        body,
        writes: 0,
        truncated: false,
      };
    }
    const id = randomUUID();
    const received = new Promise<Received>((resolve) => pending.set(id, resolve));
    const { stream, writes, fail } = createResponseStream(port, agent, id);
    let failure: string | undefined;
    try {
      const result = handler(event, stream, {
        awsRequestId: id,
        functionName: 'api',
        getRemainingTimeInMillis: () => 120_000,
      });
      if (!(result instanceof Promise))
        throw Object.assign(new Error('Streaming does not support non-async handlers.'), {
          name: 'Runtime.InvalidStreamingOperation',
        });
      await result;
      if (!stream.writableFinished) {
        // The runtime waits for the stream first; a stream that never ends times out there.
        await new Promise((resolve) => setTimeout(resolve, 50));
        if (!stream.writableFinished)
          throw Object.assign(new Error('Response stream is not finished.'), {
            name: 'Runtime.InvalidStreamingOperation',
          });
      }
    } catch (error) {
      failure = (error as Error).name || 'Error';
      fail(error as Error);
    }
    const { contentType, body, trailers } = await received;
    const errorType = trailers['lambda-runtime-function-error-type'] ?? failure;
    return frame(contentType, body, writes(), errorType);
  }

  return {
    invoke,
    async close() {
      agent.destroy();
      await new Promise<void>((resolve) => rapid.close(() => resolve()));
    },
  };
}

/** The runtime's response stream: a chunked POST to the runtime API, its first `write()` preceded by the prelude. */
function createResponseStream(port: number, agent: Agent, id: string) {
  let written = false;
  let writes = 0;
  const req = request({
    method: 'POST',
    host: '127.0.0.1',
    port,
    agent,
    path: `/2018-06-01/runtime/invocation/${id}/response`,
    headers: {
      'Lambda-Runtime-Function-Response-Mode': 'streaming',
      Trailer: ['Lambda-Runtime-Function-Error-Type', 'Lambda-Runtime-Function-Error-Body'],
      'Content-Type': 'application/octet-stream',
      'Transfer-Encoding': 'chunked',
    },
  });
  req.on('response', (res) => res.resume());
  const rawWrite = req.write.bind(req) as (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean;
  const rawEnd = req.end.bind(req) as (callback?: unknown) => unknown;
  const target = req as unknown as ResponseStream;
  const exposed = {
    write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
      const data = typeof chunk === 'string' || chunk instanceof Uint8Array ? chunk : JSON.stringify(chunk);
      if (!written && typeof target._onBeforeFirstWrite === 'function') target._onBeforeFirstWrite((c) => rawWrite(c));
      written = true;
      writes += 1;
      return rawWrite(data, encoding, callback);
    },
    // As the runtime's: `end(chunk)` passes the chunk on as if it were the callback, past the prelude.
    end(callback?: unknown) {
      return rawEnd(callback);
    },
    setContentType(contentType: string) {
      if (written)
        throw Object.assign(new Error('Cannot set content-type, too late.'), {
          name: 'Runtime.InvalidStreamingOperation',
        });
      req.setHeader('Content-Type', contentType);
    },
  } as Record<string, unknown>;
  for (const name of [
    'cork',
    'uncork',
    'destroy',
    'addListener',
    'emit',
    'eventNames',
    'getMaxListeners',
    'listenerCount',
    'listeners',
    'off',
    'on',
    'once',
    'prependListener',
    'prependOnceListener',
    'rawListeners',
    'removeAllListeners',
    'removeListener',
    'setMaxListeners',
  ]) {
    exposed[name] = (req as unknown as Record<string, (...args: unknown[]) => unknown>)[name]?.bind(req);
  }
  for (const name of ['destroyed', 'writable', '_onBeforeFirstWrite']) {
    Object.defineProperty(exposed, name, {
      get: () => (req as unknown as Record<string, unknown>)[name],
      set: (value) => {
        (req as unknown as Record<string, unknown>)[name] = value;
      },
    });
  }
  for (const name of [
    'writableFinished',
    'writableObjectMode',
    'writableEnded',
    'writableNeedDrain',
    'writableHighWaterMark',
    'writableCorked',
    'writableLength',
  ]) {
    Object.defineProperty(exposed, name, { get: () => (req as unknown as Record<string, unknown>)[name] });
  }
  return {
    stream: exposed as unknown as ResponseStream,
    writes: () => writes,
    /** What the runtime does with a failed invocation: the error in the trailers, then the end. */
    fail(error: Error) {
      if (req.writableEnded) return;
      req.addTrailers({
        'Lambda-Runtime-Function-Error-Type': error.name || 'Error',
        'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify({ errorMessage: error.message })).toString(
          'base64',
        ),
      });
      rawEnd();
    },
  };
}

/** What the function URL makes of the streamed bytes. */
function frame(contentType: string, bytes: Buffer, writes: number, error: string | undefined): FunctionUrlResponse {
  const badGateway = (): FunctionUrlResponse => ({
    status: 502,
    headers: { 'content-type': 'application/json' },
    cookies: [],
    body: Buffer.from('{"Message":"Internal Server Error"}'),
    writes,
    truncated: false,
    error,
  });
  if (contentType !== HTTP_INTEGRATION) {
    if (error && bytes.length === 0) return badGateway();
    return {
      status: 200,
      headers: { 'content-type': contentType },
      cookies: [],
      body: bytes,
      writes,
      truncated: Boolean(error),
      error,
    };
  }
  const at = bytes.indexOf(DELIMITER);
  if (at === -1) return badGateway();
  let prelude: { statusCode?: number; headers?: Record<string, string>; cookies?: string[] };
  try {
    prelude = JSON.parse(bytes.subarray(0, at).toString('utf8'));
  } catch {
    return badGateway();
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(prelude.headers ?? {})) headers[name.toLowerCase()] = String(value);
  return {
    status: prelude.statusCode ?? 200,
    headers,
    cookies: prelude.cookies ?? [],
    body: bytes.subarray(at + DELIMITER.length),
    writes,
    truncated: Boolean(error),
    error,
  };
}
