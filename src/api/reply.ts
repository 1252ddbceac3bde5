/**
 * Writing responses to a Lambda response stream through
 * `awslambda.HttpResponseStream.from`, the runtime's interface (the local
 * shim provides the same). Every response starts with a `write()`: the runtime
 * sends the status and headers only before the first write, never on `end()`.
 */
import type { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorBody, errorCacheControl, type HttpError } from '../core/errors.js';
import type { LambdaResponseStream } from './lambda-stream.js';

export interface Reply {
  /** True once the status and headers are committed. */
  readonly started: boolean;
  json(status: number, body: unknown, headers?: Record<string, string>): Promise<void>;
  empty(status: number, headers?: Record<string, string>): Promise<void>;
  /** The JSON error body, with the error's own headers (`Allow`, `Retry-After`…). */
  error(error: HttpError, headers?: Record<string, string>): Promise<void>;
  /** Status and headers now; the body is written by the caller and ended with `end()`. */
  open(status: number, headers: Record<string, string>): Writable;
  /** Pipes `source` through `transforms` as the body, with backpressure; rejects if any side fails. */
  stream(status: number, headers: Record<string, string>, source: Readable, ...transforms: Transform[]): Promise<void>;
  /** Cuts the response: a client sees it incomplete rather than complete and wrong. */
  abort(error?: Error): void;
}

export function createReply(responseStream: LambdaResponseStream): Reply {
  let started = false;

  function open(status: number, headers: Record<string, string>): Writable {
    if (started) throw new Error('The response has already started');
    started = true;
    const out = awslambda.HttpResponseStream.from(responseStream, { statusCode: status, headers });
    // Sends the prelude now, whatever follows (an empty body included).
    out.write('');
    return out;
  }

  async function finish(out: Writable, body?: Buffer): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      out.once('error', reject);
      if (body && body.length > 0) out.write(body);
      out.end(() => resolve());
    });
  }

  return {
    get started() {
      return started;
    },
    json(status, body, headers = {}) {
      const text = Buffer.from(JSON.stringify(body));
      const out = open(status, {
        'Content-Type': 'application/json',
        'Content-Length': String(text.length),
        'Cache-Control': 'no-store',
        ...headers,
      });
      return finish(out, text);
    },
    empty(status, headers = {}) {
      return finish(open(status, { 'Cache-Control': 'no-store', ...headers }));
    },
    error(error, headers = {}) {
      return this.json(error.status, errorBody(error), {
        'Cache-Control': errorCacheControl(error, false),
        ...error.headers,
        ...headers,
      });
    },
    open,
    async stream(status, headers, source, ...transforms) {
      const out = open(status, headers);
      await pipeline([source, ...transforms, out]);
    },
    abort(error) {
      responseStream.destroy(error);
    },
  };
}
