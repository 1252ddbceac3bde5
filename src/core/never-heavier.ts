/**
 * "Never heavier": `format=auto` answers no more bytes than the JPEG (or PNG)
 * it replaces, checked per image: the negotiated encode and the replaced one
 * are made from one render's pixels and the smaller is served under the same
 * cache key (its `Content-Type` says which). The encoders are the pipeline's
 * (pipeline/negotiate.ts); this file decides which to run and which to keep.
 * The evidence for every number here: docs/quality.md ("Never heavier").
 */
import { webpQualityMatchingJpeg } from './encoder-policy.js';
import type { TransformResult } from './pipeline/encode.js';

/**
 * Against a JPEG, by butteraugli at equal look: AVIF is encoded with the JPEG
 * beside it and the smaller served (`avifOrJpeg`); a JPEG original kept at
 * this share of its linear size or more is served as the JPEG without trying
 * WebP (near its own scale WebP loses: the JPEG keeps its 8×8 grid); otherwise
 * `webpOrJpeg` encodes both and serves the smaller.
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

/** mozjpeg's bytes per baseline JPEG byte at q80 (median over 53 photographs; docs/quality.md). */
export const MOZJPEG_PER_BASELINE_BYTE = 0.849;

/**
 * WebP or the JPEG, whichever is smaller at the same look. The JPEG's bits per
 * pixel set the WebP quality that looks like it (`webpQualityMatchingJpeg`):
 * comparing bytes at the table's single quality would compare looks, not
 * efficiency. Both encodes always run (no prediction could safely skip WebP).
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
 * Against a PNG original: a cheap zlib level 1 PNG first; a lossy result under
 * 1/16 of it cannot be beaten by the real PNG, so the slow level-8 PNG runs
 * only where it may win (graphics, where it is fast). Figures: docs/quality.md.
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
