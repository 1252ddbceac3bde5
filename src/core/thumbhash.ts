/**
 * The `thumbhash` placeholder stored with each upload: a
 * ~25-byte sketch a page can paint while the image loads. Rendering it decodes
 * every pixel, so it doubles as the upload's proof that the image decodes: a
 * truncated file is refused here (422) rather than discovered by the edge.
 */
import sharp, { type OutputInfo } from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import type { EdgeResizerConfig } from './config.js';
import { HttpError } from './errors.js';
import { sharpFailure } from './transform.js';

/** ThumbHash encodes at most 100×100 pixels. */
const THUMB_SIZE = 100;

/**
 * The base64 ThumbHash of the image as displayed (EXIF-oriented, first frame).
 * `input` may be a file path: decoded sequentially and shrunk on load, its
 * memory is bounded by the 100×100 output, not the original's size.
 */
export async function computeThumbHash(input: Buffer | string, config: EdgeResizerConfig): Promise<string> {
  let rendered: { data: Buffer; info: OutputInfo };
  try {
    rendered = await sharp(input, {
      limitInputPixels: config.limits.maxInputPixels,
      // Same strictness as the edge's transform: what it would refuse, we refuse now.
      failOn: 'error',
      sequentialRead: true,
    })
      .timeout({ seconds: Math.max(1, Math.ceil(config.limits.transformTimeoutMs / 1000)) })
      .autoOrient()
      .resize({ width: THUMB_SIZE, height: THUMB_SIZE, fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    // Too many pixels is 413, the budget running out 503 `busy` (a valid image, not a corrupt one), else 422.
    throw sharpFailure(error);
  }
  const { data, info } = rendered;
  if (info.channels !== 4) throw new HttpError('corrupt_image', 'The image could not be decoded');
  return Buffer.from(rgbaToThumbHash(info.width, info.height, data)).toString('base64');
}
