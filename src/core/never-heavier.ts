/**
 * §3's "never heavier": `format=auto` answers no more bytes than the JPEG (or
 * PNG) it replaces, checked per image: the negotiated encode and the replaced
 * one are made from one render's pixels and the smaller is served under the
 * same cache key (its `Content-Type` says which). The encoders themselves are
 * transform.ts's; this file decides which to run and which result to keep.
 */
import { webpQualityMatchingJpeg } from './encoder-policy.js';
import type { TransformResult } from './pipeline/encode.js';

/**
 * §3's "never heavier" against a JPEG: `format=auto` answers no more bytes than
 * the mozjpeg JPEG it replaces at the same perceived quality. Measured by
 * butteraugli 3-norm (the metric of the quality scale and of bench row 6) on
 * the 19 photographs of fixtures/photos, fixtures/calibration and
 * fixtures/bench at 400/800/1600 px (52 cases; mozjpeg q80 against each
 * encoder's bytes at the JPEG's score, interpolated between q74/82/90), sharp
 * 0.35.5, 2026-12-01:
 *
 * | negotiated vs mozjpeg q80, at equal score     | median | range       | loses (> 1.00×) |
 * |-----------------------------------------------|--------|-------------|-----------------|
 * | AVIF (efforts 1/2/0 then; 3 now: 0.678×)      | 0.76×  | 0.48–0.94×  | 0 of 52         |
 * | WebP effort 6, JPEG original downscaled       | 0.87×  | 0.51–1.05×  | 2 of 40         |
 * | WebP effort 6, JPEG original at its own size  | 1.03×  | 0.78–1.12×  | 8 of 12         |
 *
 * And by scale, WebP effort 6 at equal score on the 12 photographs 1600 px wide:
 *
 * | output width (scale)  | median | range      | loses    |
 * |-----------------------|--------|------------|----------|
 * | 400 (0.25)            | 0.87×  | 0.51–0.97× | 0 of 12  |
 * | 800 (0.50)            | 0.90×  | 0.57–1.05× | 2 of 12  |
 * | 1100 (0.69)           | 0.96×  | 0.66–1.04× | 3 of 12  |
 * | 1300 (0.81)           | 0.96×  | 0.75–1.06× | 3 of 12  |
 * | 1450 (0.91)           | 1.00×  | 0.79–1.11× | 7 of 12  |
 * | 1600 (1.00)           | 1.03×  | 0.78–1.12× | 8 of 12  |
 *
 * (Each ratio interpolates between two measured qualities: ±0.03–0.07 between runs at other
 * quality steps.)
 *
 * A JPEG re-encoded near its own scale keeps its 8×8 grid and its already
 * quantized detail, which mozjpeg stores cheaply and WebP does not; a
 * downscale takes that advantage away. So: AVIF is encoded with the JPEG
 * beside it and the smaller served (`avifOrJpeg`: it never lost on those 52
 * photographs, but photographic grain on a flat ground makes AVIF 1.23× the
 * JPEG at 200 px, so 52 cases are evidence, not a guarantee); a JPEG original kept at 2/3 of its linear size or
 * more (every loss measured above 0.5 was at 0.69 or more; below 2/3, WebP won
 * 0.83–0.89× on the three cases at 0.56–0.63) is served as the JPEG without
 * trying WebP; otherwise `webpOrJpeg` encodes the JPEG, then WebP
 * at the quality that matches that JPEG's look, and serves the smaller. Over
 * the 52 cases (in-sample: the fit below was made on them) this serves WebP on
 * 37 and a median 0.90× at equal score; the two that lose are storm-road and
 * raindrops-leaves at 800 px (scale 0.5: 1.05× and 1.004×, WebP smaller at its
 * matched quality but scoring worse than predicted). Keeping the JPEG from 0.5
 * up removes them but serves the JPEG on half the cases (median 1.00×). The
 * rule this replaces compared bytes at the table's quality and tried WebP only
 * under 1.25 JPEG bits per pixel (chosen by SSIM): it served the JPEG where
 * butteraugli says WebP is 0.83–0.96× at equal look, and WebP where it is
 * 1.18× (fig.jpg at 1600 px).
 */
export const JPEG_KEPT_AT_SCALE = 2 / 3;

/** The smaller of two encodes; on a tie the first (the replaced format, which every browser takes). */
function smaller(replaced: TransformResult, negotiated: TransformResult): TransformResult {
  return negotiated.data.length < replaced.data.length ? negotiated : replaced;
}

/**
 * AVIF or the JPEG, whichever is smaller. The JPEG costs a few milliseconds
 * beside an AVIF encode (docs/quality.md has the figures), and runs
 * concurrently with it.
 */
export async function avifOrJpeg(encodes: {
  avif: () => Promise<TransformResult>;
  jpeg: () => Promise<TransformResult>;
}): Promise<TransformResult> {
  const [jpeg, avif] = await Promise.all([encodes.jpeg(), encodes.avif()]);
  return smaller(jpeg, avif);
}

/** What a WebP-or-JPEG choice runs: the mozjpeg JPEG, WebP at a quality of its own scale, and a cheap baseline JPEG. */
export interface WebpOrJpegEncodes {
  jpeg: () => Promise<TransformResult>;
  webp: (ownQuality: number) => Promise<TransformResult>;
  /** Bytes of a baseline (libjpeg-turbo, no trellis) JPEG at the same quality: 5–7× faster than mozjpeg. */
  baselineJpegBytes: () => Promise<number>;
}

/**
 * mozjpeg's bytes per baseline JPEG byte at q80, the median over the 53
 * downscaled cases of fixtures/photos, fixtures/calibration and fixtures/bench
 * at 200–1600 px (range 0.735–0.910; sharp 0.35.5, 2026-12-08).
 */
export const MOZJPEG_PER_BASELINE_BYTE = 0.849;

/**
 * WebP or the JPEG, whichever is smaller at the same look (see above). The
 * JPEG's bits per pixel set the WebP quality that looks like it
 * (`webpQualityMatchingJpeg`): at the table's single quality, WebP looks
 * better than the JPEG on detailed photographs (and is heavier) and worse on
 * smooth ones (and is lighter), so comparing bytes there picks by look, not
 * by efficiency. Both encodes always run (WebP won on all 53 downscaled cases
 * above, 0.65–0.98× the JPEG, so no prediction can safely skip it, and the
 * JPEG is what the WebP is compared with).
 *
 * With one core (`parallel` false) they run one after the other, the JPEG
 * first. With two, they run side by side: the WebP quality is guessed from a
 * baseline JPEG's bytes scaled by MOZJPEG_PER_BASELINE_BYTE (the quality the
 * mozjpeg bytes give on 42 of those 53 cases, one step off on 11); once the
 * mozjpeg JPEG is there, a wrong guess is encoded again at the exact quality.
 * So the bytes served are the same whatever the cores (the local CDN answers
 * what a Lambda of any size does), and the smaller of the two encodes is
 * served: never heavier holds per request.
 */
export async function webpOrJpeg(
  encodes: WebpOrJpegEncodes,
  jpegQuality: number,
  pixels: number,
  parallel: boolean,
): Promise<TransformResult> {
  const quality = (jpegBytes: number) => webpQualityMatchingJpeg(jpegQuality, (jpegBytes * 8) / pixels);
  if (!parallel) {
    const jpeg = await encodes.jpeg();
    return smaller(jpeg, await encodes.webp(quality(jpeg.data.length)));
  }
  const guess = quality((await encodes.baselineJpegBytes()) * MOZJPEG_PER_BASELINE_BYTE);
  const [jpeg, guessed] = await Promise.all([encodes.jpeg(), encodes.webp(guess)]);
  const exact = quality(jpeg.data.length);
  const webp = guess === exact ? guessed : await encodes.webp(exact);
  return smaller(jpeg, webp);
}

/**
 * Against a PNG original: a zlib level 1 PNG is cheap (23 ms vs 729 ms for
 * level 8 at 533×800) and 1.4–1.6× the level-8 size on photo PNGs, 4.2–4.8×
 * on flat graphics (solid, stripes, 1 px checks, line art at 512²). WebP/AVIF
 * of photo PNGs are 0.05–0.07× the PNG (3 of 3), so a lossy result under 1/16
 * of the fast PNG cannot be beaten by the real one (photo PNGs: 1/25); the
 * slow level-8 PNG runs only where it may win: graphics, where it is fast.
 * PNG originals cost 1.38–1.47× an explicit-format miss (the raw copy and the
 * fast PNG).
 */
export async function lossyOrPng(encodes: {
  negotiated: () => Promise<TransformResult>;
  fastPng: () => Promise<Buffer>;
  png: () => Promise<TransformResult>;
}): Promise<TransformResult> {
  const [negotiated, estimate] = await Promise.all([encodes.negotiated(), encodes.fastPng()]);
  if (negotiated.data.length < estimate.length / 16) return negotiated;
  const png = await encodes.png();
  return png.data.length < negotiated.data.length ? png : negotiated;
}
