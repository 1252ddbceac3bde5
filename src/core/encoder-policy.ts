/**
 * How each encoder is driven (CONTRACT.md §3): one quality scale for every
 * format, and the AVIF effort/size policy that keeps a miss within budget.
 * Method, raw figures and the comparison with the research note: docs/quality.md.
 * Both tables are measured by `npx tsx scripts/calibrate-quality.ts` (and `--efforts`).
 */
import type { OutputFormat } from './params.js';

/**
 * JPEG quality → the encoder's quality that looks the same; interpolate linearly, clamp outside.
 *
 * PROVISIONAL: the research note's median SSIMULACRA2 table until the calibration replaces it.
 */
export const QUALITY_SCALE: Readonly<Record<'webp' | 'avif', ReadonlyArray<readonly [jpeg: number, own: number]>>> = {
  webp: [
    [50, 48],
    [60, 60],
    [70, 75],
    [80, 83],
    [90, 90],
  ],
  avif: [
    [50, 42],
    [60, 45],
    [70, 50],
    [80, 58],
    [90, 72],
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
   * vCPU (Lambda: above ~1,769 MB); with one vCPU or less a second thread only adds overhead.
   */
  threads: number;
}

/**
 * AVIF effort by output size: the first band whose `maxPixels` the output does not exceed.
 *
 * PROVISIONAL: effort 2 everywhere, as before, until the `--efforts` measurement replaces it.
 */
export const AVIF_POLICY: ReadonlyArray<AvifBand> = [{ maxPixels: Number.POSITIVE_INFINITY, effort: 2, threads: 1 }];

function band(pixels: number): AvifBand {
  const n = pixels >= 1 ? pixels : 1; // NaN, zero and negatives count as the smallest output
  return AVIF_POLICY.find((b) => n <= b.maxPixels) ?? (AVIF_POLICY[AVIF_POLICY.length - 1] as AvifBand);
}

/** sharp `avif()` options for an output of `pixels` pixels (width × height). */
export function avifSettings(pixels: number): AvifEncoderSettings {
  return { effort: band(pixels).effort };
}

/** Threads an AVIF encode of `pixels` pixels gains from, given a second vCPU (see `AvifBand.threads`). */
export function avifThreads(pixels: number): number {
  return band(pixels).threads;
}
