/**
 * Runs the streaming API handler behind a Node HTTP server, the way a Lambda
 * function URL in `RESPONSE_STREAM` mode runs it: the request becomes a
 * payload-format-2.0 event, the handler writes to a response stream, and its
 * bytes are parsed as the function URL service parses them — the JSON prelude
 * up to 8 NUL bytes gives status and headers, everything after is the body,
 * passed on as it is written. Nothing is buffered, so time to first byte and
 * memory are what they would be on Lambda; backpressure from the client
 * reaches the handler's pipeline.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_MAX_ORIGINAL_BYTES } from '../core/config.js';
import { errorBody, HttpError } from '../core/errors.js';
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

/** A function URL refuses request payloads over 6 MB; set `maxBodyBytes` to this to feel that limit locally. */
export const LAMBDA_REQUEST_PAYLOAD_LIMIT = 6 * 1024 * 1024;
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
    readBody(req, maxBodyBytes).then(
      async (body) => {
        if (body === undefined) return refuseTooLarge(res, maxBodyBytes);
        const responseStream = new ShimResponseStream(createSink(res));
        // The client went away: stop the handler's pipeline rather than stream into the void.
        res.on('close', () => {
          if (!res.writableFinished) responseStream.destroy();
        });
        try {
          await handler(toFunctionUrlEvent(req, body), responseStream, { awsRequestId: randomUUID() });
          // Lambda ends the response when the handler's promise settles.
          if (!responseStream.writableEnded && !responseStream.destroyed) responseStream.end();
        } catch (error) {
          options.onError?.(error);
          // As Lambda: an invocation error before the prelude is a 502; after it, a cut response.
          if (!res.headersSent) {
            sendJson(res, 502, { Message: 'Internal Server Error' });
          } else {
            res.destroy();
          }
          responseStream.destroy();
        }
      },
      (error: unknown) => {
        options.onError?.(error);
        res.destroy();
      },
    );
  };
}

/**
 * The function URL side of the response stream: parses the prelude when the
 * handler used `HttpResponseStream.from`, then forwards body bytes as they come.
 */
function createSink(res: ServerResponse): ResponseSink {
  let prelude: Buffer[] | undefined = [];
  let preludeBytes = 0;

  function start(contentType: string, head: HttpResponsePrelude | undefined): void {
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

/** The request body, or undefined once it is over `limit` (the rest is not read). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return undefined;
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, length);
}

function refuseTooLarge(res: ServerResponse, limit: number): void {
  const error = new HttpError('too_large', `The request body is larger than ${Math.floor(limit / 1024 / 1024)} MB`);
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

/** Text bodies arrive as they are, anything else base64-encoded, as a function URL does. */
const TEXT_TYPES = /^(text\/|application\/(json|x-www-form-urlencoded|xml|x-ndjson)|[^;]*\+(json|xml))/i;

/** A Node request as a function URL event, payload format 2.0. */
export function toFunctionUrlEvent(req: IncomingMessage, body: Buffer): FunctionUrlEvent {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const rawPath = queryAt === -1 ? url : url.slice(0, queryAt);
  const rawQueryString = queryAt === -1 ? '' : url.slice(queryAt + 1);

  const headers: Record<string, string> = {};
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
    queryStringParameters ??= {};
    queryStringParameters[name] = name in queryStringParameters ? `${queryStringParameters[name]},${value}` : value;
  }

  const host = headers.host ?? 'localhost';
  const now = new Date();
  const text = TEXT_TYPES.test(headers['content-type'] ?? '');
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
    ...(body.length > 0 ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !text,
  };
}
