/**
 * Runs the streaming API handler behind a Node HTTP server, the way a Lambda
 * function URL in `RESPONSE_STREAM` mode runs it: the request becomes a
 * payload-format-2.0 event, the handler writes to a response stream, and its
 * bytes are parsed as the function URL service parses them — the JSON prelude
 * up to 8 NUL bytes gives status and headers, everything after is the body,
 * passed on as it is written. Nothing is buffered, so time to first byte and
 * memory are what they would be on Lambda; backpressure from the client
 * reaches the handler's pipeline. A text-typed body (`isTextBody`) arrives as
 * UTF-8, its other bytes replaced, as a function URL delivers it. One
 * difference, on purpose: the request body
 * is not read into the event but handed over as a stream (`BODY_STREAM`), so
 * an unauthenticated upload is answered without its body ever being read.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Readable, Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { BODY_STREAM, isTextBody } from '../api/lambda-stream.js';
import { DEFAULT_MAX_ORIGINAL_BYTES } from '../core/config.js';
import { errorBody } from '../core/errors.js';
import { bodyTooLarge } from '../core/limits.js';
import {
  type FunctionUrlEvent,
  HTTP_INTEGRATION_CONTENT_TYPE,
  type HttpResponsePrelude,
  installStreamingShim,
  PRELUDE_DELIMITER,
  type ResponseSink,
  ShimResponseStream,
  type StreamingHandler,
} from './streaming-shim.js';

/** The prelude is a small JSON object; more than this before the delimiter is a broken response. */
const MAX_PRELUDE_BYTES = 64 * 1024;

export interface ApiRequestListenerOptions {
  /**
   * Request bodies over this are refused with 413 before the handler runs (a
   * function URL refuses over 6 MB). The default lets an original of the
   * default `maxOriginalBytes` through, so the handler's own 413 answers.
   * @default 50 MiB + 1 MiB
   */
  maxBodyBytes?: number;
  /** Told about handler failures that escaped it (a bug: the handler answers its own errors). */
  onError?: (error: unknown) => void;
}

export function createApiRequestListener(
  handler: StreamingHandler,
  options: ApiRequestListenerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  installStreamingShim();
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_ORIGINAL_BYTES + 1024 * 1024;

  return (req, res) => {
    // Refused on the declared length before anything else, as a function URL does.
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) return refuseTooLarge(res, maxBodyBytes);
    run(req, res).catch((error: unknown) => {
      options.onError?.(error);
      res.destroy();
    });
  };

  async function run(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const responseStream = new ShimResponseStream(createSink(req, res));
    // The client went away: stop the handler's pipeline rather than stream into the void.
    res.on('close', () => {
      if (!res.writableFinished) responseStream.destroy();
    });
    try {
      await handler(toFunctionUrlEvent(req, maxBodyBytes), responseStream, { awsRequestId: randomUUID() });
      // The runtime does not end the stream for the handler: it fails the invocation
      // ("Response stream is not finished."), which a client sees as a 502 or a cut response.
      if (!responseStream.writableEnded && !responseStream.destroyed) {
        throw new Error('Response stream is not finished when the handler settled');
      }
    } catch (error) {
      options.onError?.(error);
      // As Lambda: an invocation error before the prelude is a 502; after it, a cut response.
      if (!res.headersSent) {
        closeIfUnread(req, res);
        sendJson(res, 502, { Message: 'Internal Server Error' });
      } else {
        res.destroy();
      }
      responseStream.destroy();
    }
  }
}

/**
 * An answer given before the client finished sending its body (a 401 to an
 * upload, a 413 part way): the rest is never read. It would be parsed as the
 * next request, so the connection closes after the answer instead; Node then
 * stops reading the socket, and the client's remaining bytes are refused by
 * TCP rather than read and dropped.
 */
function closeIfUnread(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete) return;
  res.shouldKeepAlive = false;
  res.setHeader('connection', 'close');
}

/**
 * The function URL side of the response stream: parses the prelude when the
 * handler used `HttpResponseStream.from`, then forwards body bytes as they come.
 */
function createSink(req: IncomingMessage, res: ServerResponse): ResponseSink {
  let prelude: Buffer[] | undefined = [];
  let preludeBytes = 0;

  function start(contentType: string, head: HttpResponsePrelude | undefined): void {
    closeIfUnread(req, res);
    if (!head) {
      res.writeHead(200, { 'content-type': contentType });
    } else {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(head.headers ?? {})) headers[name.toLowerCase()] = String(value);
      if (head.cookies?.length) headers['set-cookie'] = head.cookies;
      res.writeHead(head.statusCode ?? 200, headers);
    }
    // Headers go out now, not with the first body chunk: that is when Lambda sends them too.
    res.flushHeaders();
  }

  function forward(chunk: Buffer, done: (error?: Error | null) => void): void {
    if (chunk.length === 0 || res.destroyed || res.write(chunk)) {
      done(res.destroyed ? new Error('The client closed the connection') : null);
      return;
    }
    const onDrain = () => {
      res.off('close', onClose);
      done();
    };
    const onClose = () => {
      res.off('drain', onDrain);
      done(new Error('The client closed the connection'));
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  }

  return {
    write(chunk, contentType, done) {
      if (prelude === undefined) return forward(chunk, done);
      if (contentType !== HTTP_INTEGRATION_CONTENT_TYPE) {
        prelude = undefined;
        start(contentType, undefined);
        return forward(chunk, done);
      }
      prelude.push(chunk);
      preludeBytes += chunk.length;
      const joined = Buffer.concat(prelude);
      const at = joined.indexOf(PRELUDE_DELIMITER);
      if (at === -1) {
        if (preludeBytes > MAX_PRELUDE_BYTES) return done(badGateway(res));
        return done();
      }
      let head: HttpResponsePrelude;
      try {
        head = JSON.parse(joined.subarray(0, at).toString('utf8')) as HttpResponsePrelude;
      } catch {
        return done(badGateway(res));
      }
      prelude = undefined;
      start(contentType, head);
      forward(joined.subarray(at + PRELUDE_DELIMITER.length), done);
    },
    end(contentType, done) {
      if (prelude !== undefined) {
        const pending = Buffer.concat(prelude);
        prelude = undefined;
        if (contentType === HTTP_INTEGRATION_CONTENT_TYPE && pending.length > 0) {
          // Bytes but no complete prelude: the function URL cannot answer it.
          badGateway(res);
          return done();
        }
        start(contentType, undefined);
      }
      res.end(() => done());
    },
    abort() {
      if (!res.writableFinished) res.destroy();
    },
  };
}

function badGateway(res: ServerResponse): Error {
  if (!res.headersSent) sendJson(res, 502, { Message: 'Internal Server Error' });
  else res.destroy();
  return new Error('The response prelude is malformed');
}

/**
 * The request body as the handler reads it, no further than `limit` bytes: a
 * longer body (sent without a Content-Length, or longer than declared) fails
 * the stream with 413 `too_large` and is read no further.
 */
function limitBody(req: IncomingMessage, limit: number): Readable {
  let length = 0;
  // A text-typed body reaches a Lambda function as a UTF-8 string: what is not UTF-8 is replaced.
  const utf8 = isTextBody(req.headers['content-type']) ? new StringDecoder('utf8') : undefined;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      // Counted as delivered: a replaced byte takes three.
      const delivered = utf8 ? Buffer.from(utf8.write(chunk), 'utf8') : chunk;
      length += Math.max(chunk.length, delivered.length);
      if (length > limit) callback(bodyTooLarge(limit));
      else callback(null, delivered);
    },
    flush(callback) {
      const rest = utf8?.end();
      callback(null, rest ? Buffer.from(rest, 'utf8') : undefined);
    },
  });
  req.on('error', (error) => limiter.destroy(error));
  req.on('aborted', () => limiter.destroy(new Error('The client aborted the request')));
  limiter.on('error', () => req.unpipe(limiter));
  return req.pipe(limiter);
}

function refuseTooLarge(res: ServerResponse, limit: number): void {
  const error = bodyTooLarge(limit);
  // The unread rest of the body would be parsed as the next request: close the connection.
  res.shouldKeepAlive = false;
  sendJson(res, error.status, errorBody(error), { 'cache-control': 'no-store', connection: 'close' });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/**
 * A Node request as a function URL event, payload format 2.0, except for the
 * body: it stays in the request, handed over unread as `BODY_STREAM` (at most
 * `maxBodyBytes`), so the handler can refuse a caller before reading it.
 */
export function toFunctionUrlEvent(req: IncomingMessage, maxBodyBytes: number): FunctionUrlEvent {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const rawPath = queryAt === -1 ? url : url.slice(0, queryAt);
  const rawQueryString = queryAt === -1 ? '' : url.slice(queryAt + 1);

  // Names a client chose: a map without a prototype, so `__proto__` or `constructor` is just a name.
  const headers: Record<string, string> = Object.create(null);
  let cookies: string[] | undefined;
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (name === 'cookie') {
      cookies = String(value)
        .split(';')
        .map((cookie) => cookie.trim())
        .filter(Boolean);
      continue;
    }
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }

  let queryStringParameters: Record<string, string> | undefined;
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    queryStringParameters ??= Object.create(null) as Record<string, string>;
    const previous = queryStringParameters[name];
    queryStringParameters[name] = previous === undefined ? value : `${previous},${value}`;
  }

  const host = headers.host ?? 'localhost';
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    cookies,
    headers,
    queryStringParameters,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName: host,
      domainPrefix: host.split('.')[0] ?? host,
      http: {
        method: req.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
    [BODY_STREAM]: limitBody(req, maxBodyBytes),
  };
}
