/**
 * How one S3 call is made: a key spelled by the store's key codec, a read
 * whose 403/404 means "missing", a write whose every failure is an error, and
 * every failure as a `storage_error` that names no bucket, or the signal's
 * `HttpError` reason when the caller's time ran out (the s3-*.ts
 * operations use these for every call).
 */
import { HttpError } from '../core/errors.js';
import { IDENTITY_KEY_CODEC, type KeyCodec } from './key-codec.js';

export interface CallOptions {
  /** Ends the call, its retries and their backoff; an `HttpError` reason is thrown as it is. */
  signal?: AbortSignal;
}

/** What a call needs of the store: how keys are spelled, and the bucket a copy reads from. */
export interface CallContext {
  keyCodec?: KeyCodec;
  originalsBucket: string;
}

export function encode(ctx: CallContext, key: string): string {
  return (ctx.keyCodec ?? IDENTITY_KEY_CODEC).encode(key);
}

export function copySource(ctx: CallContext, key: string): string {
  return `${ctx.originalsBucket}/${encode(ctx, key).split('/').map(encodeURIComponent).join('/')}`;
}

/** A read: missing (403/404) → undefined, other failures → `storage_error`. */
export async function read<T>(
  send: (signal?: AbortSignal) => Promise<T>,
  options: CallOptions,
): Promise<T | undefined> {
  try {
    return await send(options.signal);
  } catch (error) {
    if (isMissing(error) && !options.signal?.aborted) return undefined;
    throw storageFailure(error, options.signal);
  }
}

/** A write (put, copy, delete): every failure, 403 and 404 included, is `storage_error`. */
export async function write<T>(send: (signal?: AbortSignal) => Promise<T>, options: CallOptions): Promise<T> {
  try {
    return await send(options.signal);
  } catch (error) {
    throw storageFailure(error, options.signal);
  }
}

export function storageFailure(error: unknown, signal: AbortSignal | undefined): HttpError {
  if (signal?.aborted && signal.reason instanceof HttpError) return signal.reason;
  if (error instanceof HttpError) return error;
  return new HttpError('storage_error', 'Storage is unavailable; try again', { cause: error });
}

export function raceSignal<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  return status === 404 || status === 403 || e?.name === 'NoSuchKey' || e?.name === 'NotFound';
}

export function isNoSuchKey(error: unknown): boolean {
  const e = error as { name?: string; Code?: string };
  return e?.name === 'NoSuchKey' || e?.Code === 'NoSuchKey';
}
