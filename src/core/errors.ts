/**
 * The one error type of edge-resizer. Every failure that reaches a user is an
 * `HttpError` carrying its HTTP status and snake_case code;
 * adapters (edge handlers, API, local server, CLI) turn it into a response.
 */
import { expectedMessage } from './messages.js';

/** Every error code a user can see and its status; `busy` (503, with `Retry-After`) is the transform time budget and concurrent writes of one key. */
export const ErrorCode = {
  invalid_param: 400,
  invalid_key: 400,
  unauthorized: 401,
  invalid_signature: 403,
  expired: 403,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  /** Another request already completed or aborted this staged upload, or is doing so. */
  conflict: 409,
  too_large: 413,
  /** Request headers over the server's limit (CloudFront's is 20 KB; Node's 16 KB locally). */
  headers_too_large: 431,
  unsupported_format: 415,
  /** A `Range` of an original that starts past its end; the answer's `Content-Range` names the size. */
  range_not_satisfiable: 416,
  corrupt_image: 422,
  internal_error: 500,
  decrypt_failed: 502,
  storage_error: 502,
  /** CloudFront's own 502 when a trigger returns an invalid result; the local CDN emulates it. */
  lambda_validation_error: 502,
  busy: 503,
} as const;

export type ErrorCode = keyof typeof ErrorCode;

export class HttpError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  /** Extra response headers the adapters send with this error (`Retry-After` on a 503, `Allow` on a 405, `WWW-Authenticate` on a 401). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; headers?: Record<string, string> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpError';
    this.code = code;
    this.status = ErrorCode[code];
    this.headers = options?.headers ?? {};
  }
}

/** The JSON body of every error answer: `{status, code, message}`. */
export interface ErrorBody {
  status: number;
  code: ErrorCode;
  message: string;
}

/**
 * Turns anything thrown into an `HttpError`. Unknown errors become a 500 with a
 * generic message: their text may hold bucket names, paths or AWS error text.
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  return new HttpError('internal_error', 'Internal error', { cause: error });
}

export function errorBody(error: HttpError): ErrorBody {
  return { status: error.status, code: error.code, message: error.message };
}

/**
 * `Cache-Control` for an error response: a missing image may be cached briefly
 * so a broken `<img>` on a busy page does not hammer the origin; nothing else is.
 */
export function errorCacheControl(error: HttpError, isImageUrl: boolean): string {
  return isImageUrl && error.status === 404 ? 'public, max-age=60' : 'no-store';
}

/** Seconds a `busy` answer asks the client to wait unless the caller says otherwise. */
export const BUSY_RETRY_AFTER_SECONDS = 1;

/** A 503 `busy`: every one tells the client when to come back (`Retry-After`, seconds). */
export function busyError(message: string, options: { cause?: unknown; retryAfterSeconds?: number } = {}): HttpError {
  const seconds = options.retryAfterSeconds ?? BUSY_RETRY_AFTER_SECONDS;
  return new HttpError('busy', message, { cause: options.cause, headers: { 'Retry-After': String(seconds) } });
}

/** sharp-style message: "Expected integer between 1 and 4096 for width but received 'abc'". */
export function invalidParam(name: string, expected: string, received: unknown): HttpError {
  return new HttpError('invalid_param', expectedMessage(name, expected, String(received)));
}
