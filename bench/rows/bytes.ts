/**
 * Row 6: bytes of WebP vs JPEG at quality 80, as we serve them (transformImage:
 * mozjpeg JPEG, libwebp WebP, sRGB ICC kept), with the quality of each checked
 * by SSIM against a lossless resize of the same photo, so a smaller WebP is
 * not just a worse picture; then WebP again at the lowest quality whose SSIM
 * matches JPEG q80's, which is the honest "same quality, fewer bytes" figure.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { ssim } from 'ssim.js';
import { createConfig } from '../../src/core/config.js';
import type { Variant } from '../../src/core/params.js';
import { transformImage } from '../../src/core/transform.js';
import type { BenchContext } from '../lib/context.js';
import { photographs } from '../lib/fixtures.js';
import type { Line, RowResult } from '../lib/report.js';
import { round, sum } from '../lib/stats.js';

const QUALITY = 80;
/** The bisection's floor for WebP quality. */
const MIN_QUALITY = 30;

interface Pair {
  photo: string;
  width: number;
  jpegBytes: number;
  webpBytes: number;
  jpegSsim: number;
  webpSsim: number;
  /** JPEG q80 without mozjpeg (libjpeg-turbo's defaults, what most resizers send): where "WebP saves 30–50%" comes from. */
  plainJpegBytes: number;
  plainJpegSsim: number;
  /** WebP at the lowest quality whose SSIM reaches JPEG q80's. */
  matchedQuality: number;
  matchedBytes: number;
  matchedSsim: number;
}

type Rgba = { data: Uint8ClampedArray; width: number; height: number };

export async function bytesRow(ctx: BenchContext): Promise<RowResult> {
  const widths = ctx.quick ? [400, 800] : [400, 800, 1600];
  const all = await photographs();
  // Quick: three photos of different character; full: every photograph.
  const photos = ctx.quick ? [all[0], all[2], all[all.length - 2]].filter((p): p is string => p !== undefined) : all;
  ctx.progress(`row 6: WebP vs JPEG q${QUALITY} bytes and SSIM, ${photos.length} photos × ${widths.join('/')} px`);
  const config = createConfig();

  const pairs: Pair[] = [];
  for (const photo of photos) {
    const input = await readFile(photo);
    const { width: photoWidth = 0 } = await sharp(photo).autoOrient().metadata();
    for (const width of widths.filter((w) => w <= photoWidth)) {
      const encode = async (format: 'jpeg' | 'webp', quality: number) => {
        const variant: Variant = { width, quality, fit: 'cover', format };
        return (await transformImage(input, variant, config)).data;
      };
      const reference = await rgba(
        sharp(input).autoOrient().resize({ width, withoutEnlargement: true }).toColourspace('srgb'),
      );
      const score = async (encoded: Buffer) => ssim(reference, await rgba(sharp(encoded)), { downsample: false }).mssim;
      const jpeg = await encode('jpeg', QUALITY);
      const webp = await encode('webp', QUALITY);
      const jpegSsim = await score(jpeg);
      const webpSsim = await score(webp);
      const plainJpeg = await sharp(input)
        .autoOrient()
        .resize({ width, withoutEnlargement: true })
        .toColourspace('srgb')
        .withIccProfile('srgb')
        .jpeg({ quality: QUALITY })
        .toBuffer();
      const plainJpegSsim = await score(plainJpeg);
      // The lowest WebP quality whose SSIM reaches JPEG q80's, by bisection (SSIM grows with quality):
      // above 80 when WebP q80 looks worse, below when it looks better — bytes at equal quality either way.
      const tried = new Map<number, { quality: number; bytes: number; ssim: number }>();
      tried.set(QUALITY, { quality: QUALITY, bytes: webp.length, ssim: webpSsim });
      const at = async (quality: number) => {
        let result = tried.get(quality);
        if (!result) {
          const candidate = await encode('webp', quality);
          result = { quality, bytes: candidate.length, ssim: await score(candidate) };
          tried.set(quality, result);
        }
        return result;
      };
      let low = webpSsim >= jpegSsim ? MIN_QUALITY - 1 : QUALITY;
      let high = webpSsim >= jpegSsim ? QUALITY : 100;
      while (high - low > 1) {
        const middle = Math.floor((low + high) / 2);
        if ((await at(middle)).ssim >= jpegSsim) high = middle;
        else low = middle;
      }
      const matched = await at(high);
      pairs.push({
        photo: basename(photo),
        width,
        jpegBytes: jpeg.length,
        webpBytes: webp.length,
        jpegSsim,
        webpSsim,
        plainJpegBytes: plainJpeg.length,
        plainJpegSsim,
        matchedQuality: matched.quality,
        matchedBytes: matched.bytes,
        matchedSsim: matched.ssim,
      });
    }
  }

  const mean = (values: number[]) => sum(values) / values.length;
  const lines: Line[] = widths.map((width) => {
    const mine = pairs.filter((pair) => pair.width === width);
    const jpegTotal = sum(mine.map((pair) => pair.jpegBytes));
    const webpTotal = sum(mine.map((pair) => pair.webpBytes));
    const value = webpTotal / jpegTotal;
    return {
      measure: `${width} px, q${QUALITY} (SSIM WebP ${mean(mine.map((p) => p.webpSsim)).toFixed(4)} / JPEG ${mean(mine.map((p) => p.jpegSsim)).toFixed(4)})`,
      ours: `WebP ${(webpTotal / 1000).toFixed(0)} kB`,
      peer: `JPEG ${(jpegTotal / 1000).toFixed(0)} kB`,
      ratio: value,
      target: '≤ 0.70×',
      pass: value <= 0.7,
    };
  });
  const jpegAll = sum(pairs.map((pair) => pair.jpegBytes));
  const webpAll = sum(pairs.map((pair) => pair.webpBytes));
  const matchedAll = sum(pairs.map((pair) => pair.matchedBytes));
  const plainAll = sum(pairs.map((pair) => pair.plainJpegBytes));
  const bestSaving = Math.min(...pairs.map((pair) => pair.webpBytes / pair.jpegBytes));
  const qualities = pairs.map((pair) => pair.matchedQuality).sort((a, b) => a - b);
  lines.push({
    measure: 'all, q80',
    ours: `WebP ${(webpAll / 1000).toFixed(0)} kB`,
    peer: `JPEG ${(jpegAll / 1000).toFixed(0)} kB`,
    ratio: webpAll / jpegAll,
    target: '≤ 0.70×',
    pass: webpAll / jpegAll <= 0.7,
  });
  lines.push({
    measure: `all, WebP at JPEG q80's SSIM (WebP q${qualities[0]}–${qualities[qualities.length - 1]}, median q${qualities[Math.floor(qualities.length / 2)]})`,
    ours: `WebP ${(matchedAll / 1000).toFixed(0)} kB`,
    peer: `JPEG ${(jpegAll / 1000).toFixed(0)} kB`,
    ratio: matchedAll / jpegAll,
    target: '≤ 0.70×',
    pass: matchedAll / jpegAll <= 0.7,
  });
  lines.push({
    measure: `context: all, WebP q80 vs libjpeg-turbo q80, no mozjpeg (its SSIM ${mean(pairs.map((p) => p.plainJpegSsim)).toFixed(4)})`,
    ours: `WebP ${(webpAll / 1000).toFixed(0)} kB`,
    peer: `JPEG ${(plainAll / 1000).toFixed(0)} kB`,
    ratio: webpAll / plainAll,
  });
  return {
    id: 6,
    title: 'Bytes: WebP vs JPEG (mozjpeg) as served, equal quality checked by SSIM',
    lines,
    notes: [
      `${pairs.length} photo × width pairs (${photos.length} photos, widths up to each photo's own); SSIM (ssim.js, Weber, no downsampling) of each output vs a lossless ` +
        `resize. Best single saving ${(100 * (1 - bestSaving)).toFixed(0)}% (Cameo: "up to 50%").`,
    ],
    data: {
      quality: QUALITY,
      ratioAtQ80: round(webpAll / jpegAll, 3),
      ratioAtMatchedSsim: round(matchedAll / jpegAll, 3),
      ratioVsPlainJpeg: round(webpAll / plainAll, 3),
      pairs: pairs.map((pair) => ({
        photo: pair.photo,
        width: pair.width,
        jpegBytes: pair.jpegBytes,
        webpBytes: pair.webpBytes,
        jpegSsim: round(pair.jpegSsim, 4),
        webpSsim: round(pair.webpSsim, 4),
        plainJpegBytes: pair.plainJpegBytes,
        plainJpegSsim: round(pair.plainJpegSsim, 4),
        matchedQuality: pair.matchedQuality,
        matchedBytes: pair.matchedBytes,
        matchedSsim: round(pair.matchedSsim, 4),
      })),
    },
  };
}

async function rgba(image: Sharp): Promise<Rgba> {
  const { data, info } = await image.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length),
    width: info.width,
    height: info.height,
  };
}
