/**
 * The Lambda Node.js runtime's response-streaming interface, as the API
 * handler sees it: the `awslambda` global, the function URL event (payload
 * format 2.0) and the response stream. Types and wire constants only; the
 * emulation that provides them outside Lambda lives in `src/local/streaming-shim.ts`.
 */
import type { Readable, Writable } from 'node:stream';

export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
/** What separates the JSON prelude from the body. */
export const PRELUDE_DELIMITER = Buffer.alloc(8);
/** The runtime's marker on a streamified handler. */
export const STREAMING_HANDLER = Symbol.for('aws.lambda.runtime.handler.streaming');
/**
 * Where the local adapter puts the request body as a stream, instead of in
 * `body`: the handler reads it only once it has authenticated the caller, and
 * may read it without holding it whole. Lambda never sets it (a function URL
 * delivers the body, at most 6 MB, inside the event).
 */
export const BODY_STREAM = Symbol.for('edge-resizer.request-body-stream');

/**
 * Request bodies a function URL hands to the function as a UTF-8 string
 * (`isBase64Encoded: false`) rather than base64: text types ("Invoking Lambda
 * function URLs", request payload). Bytes that are not UTF-8 in such a body
 * arrive replaced (U+FFFD). Read broadly, so the local CDN mangles at least
 * what AWS does.
 */
export function isTextBody(contentType: string | undefined): boolean {
  return /^\s*(text\/|application\/(json|javascript|xml|x-www-form-urlencoded)\b)|\+(json|xml)\b/i.test(
    contentType ?? '',
  );
}

/** Status, headers and cookies of a function URL response (the "prelude"). */
export interface HttpResponsePrelude {
  statusCode?: number;
  headers?: Record<string, string>;
  cookies?: string[];
}

/** The `responseStream` the runtime hands a streamified handler. */
export interface LambdaResponseStream extends Writable {
  setContentType(contentType: string): void;
}

/** A function URL event, payload format 2.0 (the fields the API reads, and a few for completeness). */
export interface FunctionUrlEvent {
  version: '2.0';
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  /** Lower-case names; repeated headers joined with commas. */
  headers: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
  requestContext: {
    accountId: string;
    apiId: string;
    domainName: string;
    domainPrefix: string;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
    requestId: string;
    routeKey: string;
    stage: string;
    time: string;
    timeEpoch: number;
  };
  body?: string;
  isBase64Encoded: boolean;
  /** Local only: the body, unread (see `BODY_STREAM`). */
  [BODY_STREAM]?: Readable;
}

export type StreamingHandler = (
  event: FunctionUrlEvent,
  responseStream: LambdaResponseStream,
  context?: unknown,
) => Promise<void>;

export interface AwsLambdaGlobal {
  streamifyResponse<H extends StreamingHandler>(handler: H): H;
  HttpResponseStream: {
    from(responseStream: LambdaResponseStream, prelude: HttpResponsePrelude): LambdaResponseStream;
  };
}

declare global {
  // The Lambda runtime defines it before loading the handler module.
  var awslambda: AwsLambdaGlobal;
}
