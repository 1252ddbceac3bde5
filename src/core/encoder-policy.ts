/**
 * How each encoder is driven: one quality scale for every format, and the
 * AVIF and WebP effort policies that keep a miss within budget. Every table's
 * measurement (method, raw figures, the reasons for each choice):
 * docs/quality.md; rerun by `npx tsx scripts/calibrate-quality.ts` and
 * `scripts/measure-never-heavier.ts`.
 */
import type { OutputFormat } from './params/constants.js';

/**
 * JPEG quality → the encoder's quality that looks the same (butteraugli
 * 3-norm, median over 34 photograph references; AVIF at effort 2); interpolate
 * linearly, clamp outside. docs/quality.md ("The calibrated table").
 */
export const QUALITY_SCALE: Readonly<Record<'webp' | 'avif', ReadonlyArray<readonly [jpeg: number, own: number]>>> = {
  webp: [
    [50, 50],
    [60, 61],
    [70, 75],
    [80, 82],
    [90, 91],
  ],
  avif: [
    [50, 44],
    [60, 48],
    [70, 52],
    [80, 60],
    [90, 75],
  ],
};

/**
 * The quality to hand `format`'s encoder for a `quality` on JPEG's scale. Defined for any number:
 * the input is rounded and clamped to 1..100 first; the answer is an integer in 1..100 that never
 * falls as the input rises, equals the table at its points, and reaches 100 at 100.
 */
export function encoderQuality(format: OutputFormat, jpegQuality: number): number {
  const q = Number.isFinite(jpegQuality) ? Math.min(100, Math.max(1, Math.round(jpegQuality))) : 80;
  if (format === 'jpeg' || format === 'png') return q;
  return Math.min(100, Math.max(1, Math.round(interpolate(QUALITY_SCALE[format], q))));
}

/** Linear between the points; below the first in proportion to it (1 → ~1), above the last straight to (100, 100). */
function interpolate(table: ReadonlyArray<readonly [number, number]>, x: number): number {
  const first = table[0] as readonly [number, number];
  const last = table[table.length - 1] as readonly [number, number];
  if (x <= first[0]) return (first[1] * x) / first[0];
  if (x >= last[0]) return last[1] + ((x - last[0]) * (100 - last[1])) / (100 - last[0]);
  for (let i = 1; i < table.length; i++) {
    const [x1, y1] = table[i] as readonly [number, number];
    const [x0, y0] = table[i - 1] as readonly [number, number];
    if (x <= x1) return y0 + ((x - x0) * (y1 - y0)) / (x1 - x0);
  }
  return last[1];
}

/** AVIF encoder settings for an output of a given number of pixels: options for sharp's `avif()`, spread into it. */
export interface AvifEncoderSettings {
  /** sharp's `avif({ effort })`, 0 (fastest) .. 9. */
  effort: number;
}

/** One band of the AVIF policy: outputs of at most `maxPixels` pixels. */
export interface AvifBand {
  maxPixels: number;
  effort: number;
  /**
   * libvips threads worth giving the encode (`sharp.concurrency`) where the function has a second
   * vCPU (Lambda: above ~1,769 MB). A second thread costs no extra CPU time (measured: median 1.01×, 0.77–1.37×).
   */
  threads: number;
  /**
   * Added to `encoderQuality('avif', q)` (calibrated at effort 2): the difference between this effort's
   * quality at mozjpeg's score and effort 2's (table below): efforts 0 and 1 need a slightly higher q,
   * effort 3 the same (−0.3 to −1.3, rounded to 0 so that it never looks worse).
   */
  qualityOffset: number;
}

/**
 * AVIF effort by output size: the first band whose `maxPixels` the output does
 * not exceed. Effort 1 keeps a small AVIF miss near a JPEG miss; effort 3 pays
 * its time once per miss for 9–14% fewer bytes on every view; effort 0 above
 * the stage cap. docs/quality.md ("AVIF effort and size policy").
 */
export const AVIF_POLICY: ReadonlyArray<AvifBand> = [
  { maxPixels: 200_000, effort: 1, threads: 2, qualityOffset: 1 },
  { maxPixels: 4_096_000, effort: 3, threads: 2, qualityOffset: 0 },
  { maxPixels: Number.POSITIVE_INFINITY, effort: 0, threads: 2, qualityOffset: 2 },
];

/**
 * Whether `format=auto` gives up AVIF for an output of `width`×`height`: above
 * the stage's `avifMaxOutputPixels` an AVIF miss could outrun the time budget,
 * and every AVIF-capable browser takes WebP. Checked on the requested box when
 * the URL gives both sides, and again on the planned output (one side given,
 * or `fit=outside`, which may exceed the box).
 */
export function overAvifCap(size: { width: number; height: number }, avifMaxOutputPixels: number): boolean {
  return size.width * size.height > avifMaxOutputPixels;
}

function band(pixels: number): AvifBand {
  const n = pixels >= 1 ? pixels : 1; // NaN, zero and negatives count as the smallest output
  return AVIF_POLICY.find((b) => n <= b.maxPixels) ?? (AVIF_POLICY[AVIF_POLICY.length - 1] as AvifBand);
}

/** sharp `avif()` options for an output of `pixels` pixels (width × height). */
export function avifSettings(pixels: number): AvifEncoderSettings {
  return { effort: band(pixels).effort };
}

/**
 * AVIF quality for `jpegQuality` at an output of `pixels` pixels: `encoderQuality('avif', q)` (calibrated
 * at effort 2) plus the band's offset for its effort, so every band keeps the same look.
 */
export function avifQuality(jpegQuality: number, pixels: number): number {
  const q = encoderQuality('avif', jpegQuality);
  return Math.min(100, Math.max(1, q + band(pixels).qualityOffset));
}

/** WebP encoder settings for an output of a given number of pixels: options for sharp's `webp()`. */
export interface WebpEncoderSettings {
  /** sharp's `webp({ effort })`, 0 (fastest) .. 6; libwebp's default is 4. */
  effort: number;
}

/**
 * WebP effort by output size: the first band whose `maxPixels` the output does
 * not exceed. Effort 6 (5% fewer bytes for twice effort 4's encode) up to the
 * AVIF cap's size, effort 4 above. docs/quality.md ("WebP effort").
 */
export const WEBP_POLICY: ReadonlyArray<{ maxPixels: number; effort: number }> = [
  { maxPixels: 4_100_000, effort: 6 },
  { maxPixels: Number.POSITIVE_INFINITY, effort: 4 },
];

/** sharp `webp()` options for an output of `pixels` pixels (width × height). */
export function webpSettings(pixels: number): WebpEncoderSettings {
  const n = pixels >= 1 ? pixels : 1;
  const band = WEBP_POLICY.find((b) => n <= b.maxPixels) ?? (WEBP_POLICY[WEBP_POLICY.length - 1] as { effort: number });
  return { effort: band.effort };
}

/**
 * The WebP quality that looks like a given JPEG of this image, from the JPEG's own bits per pixel:
 * the table's quality (`encoderQuality('webp', q)`, a median over photographs) plus an offset that
 * falls as the JPEG's bits per pixel rise, clamped to `WEBP_MATCH.offset`. Used where the JPEG has
 * already been encoded (`format=auto`'s never-heavier choice), never for an explicit `format=webp`,
 * which keeps the one scale. The fit: docs/quality.md ("Never heavier").
 */
export const WEBP_MATCH = { perBitPerPixel: -8.57, pivotBitsPerPixel: 0.91, offset: { min: -10, max: 6 } } as const;

/** See WEBP_MATCH: WebP quality (1..100) looking like the JPEG at `jpegQuality` that spent `jpegBitsPerPixel`. */
export function webpQualityMatchingJpeg(jpegQuality: number, jpegBitsPerPixel: number): number {
  const bpp =
    Number.isFinite(jpegBitsPerPixel) && jpegBitsPerPixel > 0 ? jpegBitsPerPixel : WEBP_MATCH.pivotBitsPerPixel;
  const raw = WEBP_MATCH.perBitPerPixel * (bpp - WEBP_MATCH.pivotBitsPerPixel);
  const offset = Math.min(WEBP_MATCH.offset.max, Math.max(WEBP_MATCH.offset.min, raw));
  return Math.min(100, Math.max(1, Math.round(encoderQuality('webp', jpegQuality) + offset)));
}
