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
 * Measured 2026-12-01 by `npx tsx scripts/calibrate-quality.ts` (22 min, one core; raw figures in
 * docs/quality-calibration.json): 34 references, the 17 photographs of fixtures/photos and
 * fixtures/calibration at 400 and 800 px wide, lossless lanczos3 resizes; sharp 0.35.5 (mozjpeg,
 * libwebp 1.6.0, aom 3.15.1), every encode decoded back to PNG and scored with butteraugli 3-norm
 * (`butteraugli_main --pnorm 3`, libjxl-devtools 0.7.0). For each reference, the encoder's quality
 * at mozjpeg q50..90's score (the highest crossing, linear between measured points); the table is
 * the median over the 34, spread as the interquartile range:
 *
 * | JPEG q | WebP q (IQR)   | AVIF q, effort 2 (IQR) | bytes vs JPEG, WebP / AVIF (median) |
 * |-------:|----------------|------------------------|-------------------------------------|
 * |     50 | 50 (44–56)     | 44 (40–47)             | 0.91× / 0.76×                       |
 * |     60 | 61 (51–68)     | 48 (43–50)             | 0.88× / 0.74×                       |
 * |     70 | 75 (63–79)     | 52 (48–55)             | 0.89× / 0.73×                       |
 * |     80 | 82 (78–86)     | 60 (57–66)             | 0.90× / 0.72×                       |
 * |     90 | 91 (87–95)     | 75 (71–79)             | 0.95× / 0.70×                       |
 *
 * At JPEG 80, WebP at q82 is larger than the JPEG on 7 of 34 references (up to 1.27×); AVIF is smaller
 * on 34 of 34 (at most 0.85×). The second metric, SSIMULACRA 1 (`ssimulacra_main`), gives lower
 * qualities everywhere (WebP 42/54/66/80/89, AVIF 41/44/49/57/73): the table takes butteraugli's,
 * the stricter of the two. Applied back, the median score equals the JPEG's (within 1%), and 6–10
 * of the 34 references score more than 10% worse than the JPEG. Comparison with the research note
 * (JPEG 80 ≈ WebP 83 ≈ AVIF 58 by SSIMULACRA2): docs/quality.md.
 *
 * WebP was calibrated at libwebp's default effort 4; WebP is now encoded at effort 6 (WEBP_POLICY),
 * whose quality at mozjpeg q80's score is 82.8 (median of 40 downscaled cases at 400–1600 px,
 * scripts/measure-never-heavier.ts), so the table stands.
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
 * AVIF effort by output size: the first band whose `maxPixels` the output does not exceed.
 *
 * Bytes: `npx tsx scripts/measure-never-heavier.ts --avif-efforts 0,1,2,3` (docs/avif-efforts.json),
 * 2026-12-01, sharp 0.35.5 / aom 3.15.1: the 19 fixture photographs at 400/800/1600 px (52 cases),
 * AVIF bytes at the butteraugli 3-norm score of mozjpeg q80, against that JPEG's bytes (median), and
 * the AVIF quality at that score (median):
 *
 * | output         | cases | effort 0      | effort 1      | effort 2      | effort 3      |
 * |----------------|------:|---------------|---------------|---------------|---------------|
 * | 400 px wide    |    19 | 0.829× (q62.6)| 0.755× (q63.0)| 0.729× (q61.6)| 0.661× (q60.3)|
 * | 800 px         |    19 | 0.785× (q62.5)| 0.748× (q62.4)| 0.737× (q61.3)| 0.672× (q61.0)|
 * | 1600 px        |    14 | 0.814× (q64.8)| 0.791× (q65.0)| 0.748× (q63.5)| 0.641× (q62.9)|
 * | all            |    52 | 0.799×        | 0.763×        | 0.740×        | 0.666×        |
 *
 * Effort 3 (aom cpu-used 6) is where aom's intra tools step up: 9–14% fewer bytes than effort 2 at every
 * size. (An earlier table here, from two photographs at q60, put it at 1–4%, and effort 0 within 3–7% of
 * effort 2 above 1 Mpx; over 52 cases effort 0 is 9% heavier at 1600 px, and that earlier policy's
 * median was 0.757×.)
 *
 * Time: CPU ms of one encode, one thread (`scripts/calibrate-quality.ts --efforts --timing-photos`,
 * docs/avif-timing.json; and the 5120 px photograph resized, 2 runs, best): effort 1 / 2 / 3 at 400 px
 * 40 / 91 / 165; at 800 px 155 / 300 / 573 (the 5120 photo: e2 253, e3 327); at 1600 px (1.44–1.7 Mpx)
 * 478 / 1185 / 1542 (e2 1067, e3 1113; e0 113); at 2560 px (3.7 Mpx) 782 / 1824 / 1953 (e2 2008,
 * e3 2437; two threads: 1,521 ms wall). Peak RSS of that process 502 MB after the 3.7 Mpx encodes.
 *
 * Choice, assuming a slow Lambda is 3× slower than these figures (1,024 MB is ~0.58 vCPU; 1,536 MB
 * ~0.87; plus a slower core):
 * - ≤ 0.2 Mpx (400–550 px): effort 1. Effort 2 makes a 400 px AVIF miss ~2.5× a JPEG miss
 *   (decode+resize ~28 ms + 91 ms vs + 20 ms), effort 3 ~4×; effort 1 is ~1.4–1.75× (bench row 6).
 * - ≤ 4.1 Mpx (`DEFAULT_AVIF_MAX_OUTPUT_PIXELS`, 2560×1600): effort 3, ≤ ~2.4 s here (~1.5 s on two
 *   threads), ≤ ~7.5 s on a slow Lambda: inside the 20 s budget with the original's fetch and decode.
 *   Effort 3 costs 1.05–1.9× effort 2's time for 9–14% fewer bytes: the bytes are paid on every view
 *   of a cached derivative, the encode once per miss.
 * - above (only an explicit `format=avif`; `format=auto` stops choosing AVIF at the stage cap): effort
 *   0, which runs as fast as WebP (4096 px: 1,045 ms vs WebP 1,248 ms); a 4096×4096 output (16.8 Mpx) is
 *   ~1.9 s, ~5.6 s on a slow Lambda.
 * With this policy the 52 cases' median is 0.678× (0.337–0.932×), against 0.757× before.
 */
export const AVIF_POLICY: ReadonlyArray<AvifBand> = [
  { maxPixels: 200_000, effort: 1, threads: 2, qualityOffset: 1 },
  { maxPixels: 4_096_000, effort: 3, threads: 2, qualityOffset: 0 },
  { maxPixels: Number.POSITIVE_INFINITY, effort: 0, threads: 2, qualityOffset: 2 },
];

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
 * WebP effort by output size: the first band whose `maxPixels` the output does not exceed.
 *
 * Measured 2026-12-01 (sharp 0.35.5, libwebp 1.6.0): bytes at equal butteraugli 3-norm to mozjpeg
 * q80 on the 52 cases of the never-heavier table (transform.ts), effort 6 against 4: median 0.95×
 * (0.82–1.01×); median vs the JPEG, downscaled JPEG originals, 0.90× → 0.87×. CPU ms of one encode,
 * one thread, the 2560×1600 photograph (JPEG q80 for scale):
 *
 * | output          | mozjpeg | effort 4 | effort 5 | effort 6 |
 * |-----------------|--------:|---------:|---------:|---------:|
 * | 400 w (0.26 Mpx)|      15 |       17 |       19 |       33 |
 * | 800 w (1.0 Mpx) |      53 |       62 |       59 |      112 |
 * | 1600 w (4.1 Mpx)|     159 |      216 |      222 |      388 |
 *
 * Effort 6 costs about twice effort 4's encode for 5% fewer bytes: worth it up to the size where
 * `format=auto` stops choosing AVIF (4.1 Mpx, ≤ ~1 s, ~3 s on a slow Lambda); above, effort 4 keeps a
 * 16.8 Mpx WebP (~5 s at effort 6) well inside the budget.
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
 * already been encoded (`format=auto`'s never-heavier choice, transform.ts), never for an explicit
 * `format=webp`, which keeps the one scale.
 *
 * Fit 2026-12-01 on the 38 cases below 2/3 scale of the never-heavier table (19 photographs at 400/800/1600
 * px, butteraugli 3-norm, WebP effort 6, mozjpeg q80): the WebP quality at the JPEG's score is
 * 89.8 − 8.57 × JPEG bpp (correlation −0.75; residual SD 3.6 quality steps, against 5.5 for the table's
 * single quality); smooth photographs (0.2–0.5 bpp) need WebP q86–88, detailed ones (1.5–2.4 bpp)
 * q70–77. Other candidates (correlations over all 52) scored worse or cost more: log bpp (−0.72 against bpp's
 * −0.78), the original's own bpp (−0.68), libvips `stats()` sharpness (−0.77, but ~90 ms a pass),
 * entropy (−0.13). Measured at q80 only; at
 * other qualities the same offset is an extrapolation, bounded by the clamp, and the choice between
 * the two encodes still never serves more bytes than the JPEG.
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
