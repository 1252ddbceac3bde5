/**
 * The format decision: which encoder a variant gets, and whether an animated
 * original stays animated.
 *
 * Animated input, per operation (an animated original is kept animated only
 * when the output is WebP and every step asked for can run on each frame —
 * each step's `framesSafe`; otherwise the first frame is rendered as a still):
 *
 * | operation                                 | animated input                                   |
 * |-------------------------------------------|--------------------------------------------------|
 * | resize, fit, named gravity, focal point   | every frame (one crop box for all frames)        |
 * | `fit=contain` padding, `bg`               | every frame                                      |
 * | `rect`                                    | every frame (the same box cut from each)         |
 * | `trim`                                    | every frame, with the border found on frame one   |
 * | `flip=h`                                  | every frame                                      |
 * | `gravity=attention` / `entropy`           | every frame, with the crop chosen on frame one    |
 * | `rotate` (any), `flip=v` / `hv`           | first frame: libvips turns the whole frame strip  |
 * |                                           | (90/270 are refused, 180 and v reverse the order) |
 * | `blur`, `sharpen`                         | first frame: the kernel would bleed across the    |
 * |                                           | strip's frame boundaries                          |
 * | AVIF output (explicit `format=avif`)      | first frame (sharp writes no animated AVIF);      |
 * |                                           | `format=auto` answers animated WebP instead       |
 * | JPEG / PNG output                         | first frame                                       |
 */
import type { EdgeResizerConfig } from '../config.js';
import { overAvifCap } from '../encoder-policy.js';
import { JPEG_KEPT_AT_SCALE } from '../never-heavier.js';
import type { OutputFormat, Variant } from '../params.js';
import type { ImageInfo } from './inspect.js';
import { linearScale, type Plan, type Size } from './plan.js';
import { framesSafe } from './steps/index.js';

/** `format=auto` without WebP: the original's own JPEG or PNG, else PNG if it has alpha, else JPEG. */
export function resolveOutputFormat(variant: Pick<Variant, 'format'>, input: ImageInfo): OutputFormat {
  if (variant.format === 'auto-webp') return 'webp';
  if (variant.format === 'auto-avif') return 'avif';
  if (variant.format !== 'original') return variant.format;
  return replacedFormat(input);
}

/** What `format=auto` answers without WebP or AVIF: the format a negotiated answer must not be heavier than. */
export function replacedFormat(input: ImageInfo): 'jpeg' | 'png' {
  if (input.format === 'jpeg' || input.format === 'png') return input.format;
  return input.hasAlpha ? 'png' : 'jpeg';
}

/** The encoder for a variant: explicit formats as asked; `auto-avif` animated, over the AVIF cap or switched off as `auto-webp`. */
export function chooseEncoder(
  variant: Variant,
  input: ImageInfo,
  output: Size,
  config: EdgeResizerConfig,
): OutputFormat {
  if (variant.format === 'auto-avif') {
    const tooLarge = overAvifCap(output, config.avifMaxOutputPixels);
    if (isAnimated(input, variant) || tooLarge || !config.autoAvif) return 'webp';
  }
  return resolveOutputFormat(variant, input);
}

/** An animated original whose steps can all run on each frame (the output must still be WebP). */
export function isAnimated(input: ImageInfo, variant: Variant): boolean {
  return input.pages > 1 && framesSafe(variant);
}

/** Whether a JPEG original is re-encoded at ≥ JPEG_KEPT_AT_SCALE of its linear size (never-heavier.ts says why). */
export function keepsJpegScale(input: ImageInfo, plan: Plan): boolean {
  return input.format === 'jpeg' && linearScale(plan) >= JPEG_KEPT_AT_SCALE;
}
