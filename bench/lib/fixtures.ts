/** Inputs of the bench: the committed photos, and images derived from them at run time (never committed). */
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { createConfig } from '../../src/core/config.js';
import { canonicalVariant, parseImageParams, type Variant } from '../../src/core/params.js';

const fixtures = (path: string) => fileURLToPath(new URL(`../../fixtures/${path}`, import.meta.url));

export const PHOTO_2560 = fixtures('bench/seeding-2560x1600.jpg');
export const PHOTO_5120 = fixtures('bench/seeding-5120x2880.jpg');

/**
 * The JPEG photographs of fixtures/photos, fixtures/calibration and fixtures/bench, largest last.
 * `articles`: only fixtures/photos and fixtures/bench (the seed articles' photographs, the set of
 * earlier runs).
 */
export async function photographs(which: 'all' | 'articles' = 'all'): Promise<string[]> {
  const dirs = which === 'all' ? ['photos', 'calibration'] : ['photos'];
  const photos: string[] = [];
  for (const dir of dirs) {
    const names = (await readdir(fixtures(dir))).filter((name) => name.endsWith('.jpg')).sort();
    photos.push(...names.map((name) => fixtures(`${dir}/${name}`)));
  }
  return [...photos, PHOTO_2560, PHOTO_5120];
}

/** The variant a query names, as the origin-request handler canonicalizes it (WebP accepted). */
export function variantOf(query: string): Variant {
  const config = createConfig();
  return canonicalVariant(parseImageParams(query, config), true, config);
}

/** The 5120×2880 photo resized to about `megapixels` (enlarged past 14.7 MP), JPEG q90. */
export async function photoOfMegapixels(megapixels: number): Promise<Buffer> {
  const width = Math.round(Math.sqrt((megapixels * 1e6 * 16) / 9));
  return sharp(PHOTO_5120).resize({ width }).jpeg({ quality: 90 }).toBuffer();
}

/**
 * A PNG of random pixels of about `bytes` bytes: noise does not compress, so
 * the file is the pixels plus a few hundred bytes, and any target size is reachable.
 */
export async function noisePng(bytes: number): Promise<Buffer> {
  const side = Math.max(8, Math.round(Math.sqrt(bytes / 3)));
  const raw = randomBytes(side * side * 3);
  return sharp(raw, { raw: { width: side, height: side, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

/** The 13 MB PNG of fixtures/README.md (not committed): the 5120×2880 photo, level 6, adaptive filtering. */
export async function benchPng(): Promise<Buffer> {
  return sharp(PHOTO_5120).png({ compressionLevel: 6, adaptiveFiltering: true }).toBuffer();
}
