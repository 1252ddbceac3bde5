/**
 * Image assertions the way sharp, thumbor and weserv test: by format,
 * dimensions and a perceptual similarity score (SSIM), never exact bytes.
 */
import { readFileSync } from 'node:fs';
import sharp, { type ResizeOptions } from 'sharp';
import { ssim } from 'ssim.js';

export const fixture = (path: string): Buffer<ArrayBuffer> =>
  readFileSync(new URL(`../../fixtures/${path}`, import.meta.url));

/** SSIM of two images compared at `a`'s size, as RGBA, with alpha flattened on white. */
export async function similarity(a: Buffer, b: Buffer): Promise<number> {
  const { width, height } = await sharp(a).metadata();
  const raw = async (input: Buffer) => {
    const { data, info } = await sharp(input)
      .flatten({ background: '#ffffff' })
      .resize(width, height, { fit: 'fill' })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return {
      data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
    };
  };
  const [left, right] = await Promise.all([raw(a), raw(b)]);
  return ssim(left, right).mssim;
}

/** What a correct resize looks like: sharp's own auto-orient + resize, losslessly. */
export function referenceResize(input: Buffer, options: ResizeOptions): Promise<Buffer> {
  return sharp(input)
    .autoOrient()
    .resize({ ...options, withoutEnlargement: true })
    .png()
    .toBuffer();
}
