/**
 * How each encoder is driven (CONTRACT.md §3): one quality scale for every
 * format, and the AVIF effort/size policy that keeps a miss within budget.
 *
 * STUB (to be replaced by the calibration script's output): the mapping below
 * is the research note's median SSIMULACRA2 table
 * (shared/research/bytes-at-equal-quality.md), not yet our own measurement.
 */
import type { OutputFormat } from './params.js';

/** JPEG quality → the encoder's quality that looks the same; interpolate linearly, clamp outside. */
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

/** The quality to hand `format`'s encoder for a `quality` on JPEG's scale (1..100). */
export function encoderQuality(format: OutputFormat, jpegQuality: number): number {
  if (format === 'jpeg' || format === 'png') return jpegQuality;
  return Math.round(interpolate(QUALITY_SCALE[format], jpegQuality));
}

function interpolate(table: ReadonlyArray<readonly [number, number]>, x: number): number {
  const first = table[0] as readonly [number, number];
  const last = table[table.length - 1] as readonly [number, number];
  if (x <= first[0]) return Math.max(1, first[1] + (x - first[0]));
  if (x >= last[0]) return Math.min(100, last[1] + ((x - last[0]) * (100 - last[1])) / (100 - last[0]));
  for (let i = 1; i < table.length; i++) {
    const [x1, y1] = table[i] as readonly [number, number];
    const [x0, y0] = table[i - 1] as readonly [number, number];
    if (x <= x1) return y0 + ((x - x0) * (y1 - y0)) / (x1 - x0);
  }
  return last[1];
}

/** AVIF encoder settings for an output of `pixels` pixels. */
export interface AvifEncoderSettings {
  effort: number;
}

/** STUB: effort 2 everywhere, as before; the calibration replaces it with a measured table. */
export function avifSettings(_pixels: number): AvifEncoderSettings {
  return { effort: 2 };
}
