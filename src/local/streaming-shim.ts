/**
 * The `awslambda` global of the Lambda Node.js runtime, for running the API
 * handler outside Lambda (local CDN, tests). Installed only where absent, so in
 * Lambda the runtime's own is used.
 *
 * It mirrors the runtime (aws-lambda-nodejs-runtime-interface-client) closely
 * enough that code which works here works there, quirks included:
 * `HttpResponseStream.from` sets the content type
 * `application/vnd.awslambda.http-integration-response` and arranges for the
 * JSON prelude and 8 NUL bytes to go out before the first `write()`. Only
 * `write()` triggers that: `end(chunk)` or a bare `end()` skip it, which on
 * Lambda gives a 502 or a header-less 200 (runtime-interface-client issue #97),
 * and gives the same here because the adapter parses the prelude from the bytes.
 */
import { Writable } from 'node:stream';
import {
  type AwsLambdaGlobal,
  HTTP_INTEGRATION_CONTENT_TYPE,
  type LambdaResponseStream,
  PRELUDE_DELIMITER,
  STREAMING_HANDLER,
} from '../api/lambda-stream.js';

export {
  type FunctionUrlEvent,
  HTTP_INTEGRATION_CONTENT_TYPE,
  type HttpResponsePrelude,
  type LambdaResponseStream,
  PRELUDE_DELIMITER,
  STREAMING_HANDLER,
  type StreamingHandler,
} from '../api/lambda-stream.js';

type RawWrite = (chunk: Buffer) => void;

/** Where a response stream's bytes go: the adapter's side of the pipe. */
export interface ResponseSink {
  /** Bytes in order; `done` once they may be overwritten (backpressure). */
  write(chunk: Buffer, contentType: string, done: (error?: Error | null) => void): void;
  end(contentType: string, done: (error?: Error | null) => void): void;
  abort(error: Error | null): void;
}

/** The runtime's response stream: a Writable whose first `write()` is preceded by `_onBeforeFirstWrite`. */
export class ShimResponseStream extends Writable implements LambdaResponseStream {
  private contentType = 'application/octet-stream';
  private firstWriteDone = false;
  /** Set by `HttpResponseStream.from`, as in the runtime. */
  _onBeforeFirstWrite?: (write: RawWrite) => void;

  constructor(private readonly sink: ResponseSink) {
    super();
  }

  setContentType(contentType: string): void {
    if (this.firstWriteDone) throw new Error('setContentType must be called before the first write');
    this.contentType = contentType;
  }

  override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    if (!this.firstWriteDone) {
      this.firstWriteDone = true;
      // Straight to the sink, ahead of anything queued: the runtime writes the prelude the same way.
      this._onBeforeFirstWrite?.((raw) => this.sink.write(raw, this.contentType, () => {}));
    }
    return super.write(chunk as never, encoding as never, callback as never);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.firstWriteDone = true;
    if (chunk.length === 0) callback();
    else this.sink.write(chunk, this.contentType, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.sink.end(this.contentType, callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.writableFinished) this.sink.abort(error);
    callback(error);
  }
}

const shim: AwsLambdaGlobal = {
  streamifyResponse(handler) {
    Object.defineProperty(handler, STREAMING_HANDLER, { value: 'response' });
    return handler;
  },
  HttpResponseStream: {
    from(responseStream, prelude) {
      responseStream.setContentType(HTTP_INTEGRATION_CONTENT_TYPE);
      // JSON.stringify escapes control characters, so no NUL can occur before the delimiter.
      const json = Buffer.from(JSON.stringify(prelude));
      (responseStream as ShimResponseStream)._onBeforeFirstWrite = (write) => {
        write(json);
        write(PRELUDE_DELIMITER);
      };
      return responseStream;
    },
  },
};

/**
 * Installs the shim's members on `globalThis.awslambda` where the runtime's
 * are absent. Member by member: the AWS SDK (through
 * `@aws/lambda-invoke-store`) creates an empty `awslambda` object on import,
 * so the object's presence says nothing. Idempotent.
 */
export function installStreamingShim(): void {
  if (typeof globalThis.awslambda === 'undefined') globalThis.awslambda = {} as AwsLambdaGlobal;
  const target = globalThis.awslambda as Partial<AwsLambdaGlobal>;
  target.streamifyResponse ??= shim.streamifyResponse;
  target.HttpResponseStream ??= shim.HttpResponseStream;
}
