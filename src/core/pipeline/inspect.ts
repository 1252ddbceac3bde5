/**
 * The pipeline's first step: what an input is, from its header alone, and the
 * input limits applied to it before any pixel is decoded.
 */
import sharp, { type Metadata } from 'sharp';
import type { EdgeResizerConfig } from '../config.js';
import { HttpError } from '../errors.js';
import { checkInputPixels, checkOriginalBytes } from '../limits.js';
import type { Rect } from '../params.js';
import { decodeError, unsupported } from './failures.js';
import type { Size } from './plan.js';

/** Input formats we decode (sharp's names: AVIF is reported as `heif`). */
const SUPPORTED_INPUTS = new Set<string>(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);

/** What an input is, from its header alone. */
export interface ImageInfo {
  /** sharp's format name, normalized: `avif` rather than `heif`. */
  format: string;
  contentType: string;
  /** As displayed, after EXIF orientation. */
  width: number;
  height: number;
  pages: number;
  hasAlpha: boolean;
  /** sRGB pixels without an ICC profile: already what we output, no profile to attach. */
  untaggedSrgb: boolean;
}

/**
 * Reads the header and applies the input limits: unsupported → 415, undecodable
 * → 422, too many pixels (all frames counted) → 413. Decodes no pixels.
 */
export async function inspectImage(
  input: Buffer | { file: string; bytes: number },
  config: EdgeResizerConfig,
): Promise<ImageInfo> {
  // A file (a staged upload being ingested) is read from disk, never held whole.
  const bytes = Buffer.isBuffer(input) ? input.length : input.bytes;
  if (bytes === 0) throw new HttpError('corrupt_image', 'The image is empty');
  checkOriginalBytes(bytes, config);
  let metadata: Metadata;
  try {
    metadata = await sharp(Buffer.isBuffer(input) ? input : input.file, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw decodeError(error);
  }
  const format = metadata.format === 'heif' && metadata.compression === 'av1' ? 'avif' : String(metadata.format);
  if (!SUPPORTED_INPUTS.has(String(metadata.format)) || (metadata.format === 'heif' && format !== 'avif')) {
    throw unsupported(format);
  }
  const pages = metadata.pages ?? 1;
  const storedWidth = metadata.width ?? 0;
  const storedHeight = metadata.pageHeight ?? metadata.height ?? 0;
  checkInputPixels(storedWidth, storedHeight, pages, config);
  // Orientations 5–8 swap the axes.
  const swapped = (metadata.orientation ?? 1) >= 5;
  return {
    format,
    contentType: format === 'avif' ? 'image/avif' : `image/${format}`,
    width: swapped ? storedHeight : storedWidth,
    height: swapped ? storedWidth : storedHeight,
    pages,
    hasAlpha: metadata.hasAlpha ?? false,
    untaggedSrgb: !metadata.hasProfile && metadata.space === 'srgb',
  };
}

/** A rect must lie inside the displayed original; only here is its size known. */
export function checkRect(rect: Rect, image: Size): void {
  if (rect.x + rect.width > image.width || rect.y + rect.height > image.height) {
    throw new HttpError(
      'invalid_param',
      `Expected rect inside the image's ${image.width}×${image.height} pixels but received '${rect.x},${rect.y},${rect.width},${rect.height}'`,
    );
  }
}
