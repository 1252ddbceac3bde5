/**
 * Every input limit and the one message each gives: this file
 * answers "when is a 413". The checks run as early as the size is known — an
 * original's length before its body is read, an image's pixels from its header
 * before any is decoded, a request body before it is buffered.
 */
import type { EdgeResizerConfig } from './config.js';
import { HttpError } from './errors.js';
import { formatBytes } from './format-bytes.js';

type Limits = Pick<EdgeResizerConfig, 'limits'>;

/** JSON request bodies (PATCH, staged uploads) are small; more is refused unread. */
export const MAX_JSON_BYTES = 64 * 1024;

/**
 * A Lambda function URL's invocation payload: 6 MB for the whole event
 * ("Lambda quotas": invocation payload, request). The page does not say 10⁶ or
 * 2²⁰; the smaller reading is the safe one.
 */
export const FUNCTION_URL_EVENT_BYTES = 6_000_000;
/** What an event carries besides the body: headers (CloudFront's included), request context, JSON framing. */
export const FUNCTION_URL_EVENT_OVERHEAD_BYTES = 64 * 1024;
/**
 * The largest body one API request carries, deployed and locally alike: a
 * function URL hands a binary body to the function base64-encoded ("Invoking
 * Lambda function URLs": `isBase64Encoded`), 4 bytes per 3, inside the 6 MB
 * event — about 4.3 MB of image. Larger originals go through staged uploads
 * (`POST /api/uploads`); the CLI and the playground switch above this.
 */
export const MAX_DIRECT_UPLOAD_BYTES =
  Math.floor((FUNCTION_URL_EVENT_BYTES - FUNCTION_URL_EVENT_OVERHEAD_BYTES) / 4) * 3;

/** An original over `maxOriginalBytes` (50 MB): an upload, a staged upload, or a stored original at the edge. */
export function checkOriginalBytes(bytes: number, config: Limits): void {
  if (bytes > config.limits.maxOriginalBytes) throw originalTooLarge(config);
}

export function originalTooLarge(config: Limits): HttpError {
  return new HttpError('too_large', `The image is larger than ${formatBytes(config.limits.maxOriginalBytes)}`);
}

/** Decoded pixels over `maxInputPixels` (100 MP), every frame counted; from the header alone. */
export function checkInputPixels(width: number, height: number, frames: number, config: Limits): void {
  const total = width * height * frames;
  if (total <= config.limits.maxInputPixels) return;
  const framesOf = frames > 1 ? `${frames} frames of ` : '';
  throw new HttpError(
    'too_large',
    `The image has ${framesOf}${width}×${height} pixels (${megapixels(total)} MP); the limit is ${megapixels(config.limits.maxInputPixels)} MP`,
  );
}

/** sharp's own pixel limit, the backstop behind `checkInputPixels`. */
export function tooManyPixels(cause: unknown): HttpError {
  return new HttpError('too_large', 'The image has too many pixels', { cause });
}

/** A JSON body over `MAX_JSON_BYTES`. */
export function jsonTooLarge(): HttpError {
  return new HttpError('too_large', `The JSON body is larger than ${formatBytes(MAX_JSON_BYTES)}`);
}

/** A request body over what the transport takes (a function URL: `MAX_DIRECT_UPLOAD_BYTES`). */
export function bodyTooLarge(limit: number): HttpError {
  return new HttpError(
    'too_large',
    `The request body is larger than ${formatBytes(limit)}, the most one API request carries; send larger originals through POST /api/uploads`,
  );
}

/** Megapixels to three significant digits: 125, 100, 0.0768. */
function megapixels(pixels: number): number {
  return Number((pixels / 1e6).toPrecision(3));
}
