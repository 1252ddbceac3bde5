/** How sharp's failures and the miss's time budget become the one error type. */
import { busyError, HttpError } from '../errors.js';
import { tooManyPixels } from '../limits.js';

/**
 * sharp's `timeout` for the time left before `deadline`: libvips stops the
 * pipeline (and frees its threads) once it has run that long, so a miss that
 * answered 503 does not keep a core busy. sharp counts whole seconds (≥ 1), so
 * the work ends at most a second after the budget; none left is `busy` at once.
 */
export function secondsLeft(deadline: number): number {
  const ms = deadline - Date.now();
  if (ms <= 0) throw tookTooLong();
  return Math.max(1, Math.ceil(ms / 1000));
}

function tookTooLong(cause?: unknown): HttpError {
  return busyError('The image took too long to transform; try again', { cause });
}

export function unsupported(format: string): HttpError {
  return new HttpError(
    'unsupported_format',
    `Unsupported image format '${format}': expected JPEG, PNG, WebP, AVIF, GIF or TIFF`,
  );
}

/**
 * What a sharp pipeline threw → the contract's error: its own `timeout` (the
 * budget ran out) is `busy`, anything else a decode failure. Errors already
 * the contract's pass through.
 */
export function sharpFailure(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof Error && /timeout/i.test(error.message)) return tookTooLong(error);
  return decodeError(error);
}

/** sharp's errors → contract errors; its text never reaches the user. */
export function decodeError(error: unknown): HttpError {
  const message = error instanceof Error ? error.message : String(error);
  if (/unsupported image format/i.test(message)) return unsupported('unknown');
  if (/pixel limit/i.test(message)) return tooManyPixels(error);
  return new HttpError('corrupt_image', 'The image could not be decoded', { cause: error });
}
