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

/**
 * A `width`×`height` PNG whose every pixel says where it is: R = x·255/(width−1),
 * G = y·255/(height−1), B = 64. `sourceOf` reads an output pixel back to the
 * source coordinates it came from, so crops, rotations and flips can be checked
 * by sampling a few pixels. With `transparentLeft`, the left half has alpha 0.
 */
export function coordinateImage(
  width: number,
  height: number,
  options: { transparentLeft?: boolean; border?: { size: number; colour: [number, number, number] } } = {},
): Promise<Buffer> {
  const channels = options.transparentLeft ? 4 : 3;
  const pixels = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      pixels[i] = Math.round((x * 255) / (width - 1));
      pixels[i + 1] = Math.round((y * 255) / (height - 1));
      pixels[i + 2] = 64;
      if (channels === 4) pixels[i + 3] = x < width / 2 ? 0 : 255;
    }
  }
  const image = sharp(pixels, { raw: { width, height, channels } });
  if (!options.border) return image.png().toBuffer();
  const [r, g, b] = options.border.colour;
  const size = options.border.size;
  return image.extend({ top: size, bottom: size, left: size, right: size, background: { r, g, b } }).png().toBuffer();
}

/** RGBA of one pixel (alpha 255 where the image has none). */
export async function pixelAt(image: Buffer, x: number, y: number): Promise<[number, number, number, number]> {
  const { data, info } = await sharp(image).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * 4;
  return [data[i] ?? 0, data[i + 1] ?? 0, data[i + 2] ?? 0, data[i + 3] ?? 0];
}

/** Where output pixel (x, y) came from in a `coordinateImage(width, height)`. */
export async function sourceOf(
  output: Buffer,
  x: number,
  y: number,
  width: number,
  height: number,
): Promise<{ x: number; y: number }> {
  const [r, g] = await pixelAt(output, x, y);
  return { x: (r * (width - 1)) / 255, y: (g * (height - 1)) / 255 };
}
