/**
 * What a variant means in pixels, and which inputs are refused: the pipeline
 * composed from its parts in src/core/pipeline/ — inspect (limits, from the
 * header) → plan (pure geometry) → the steps in their order → format decision
 * → encode.
 */
import type { EdgeResizerConfig } from './config.js';
import type { FocalPoint, Variant } from './params.js';
import { parseBackground } from './pipeline/background.js';
import { encode, run, type TransformResult } from './pipeline/encode.js';
import { sharpFailure } from './pipeline/failures.js';
import { chooseEncoder, isAnimated, keepsJpegScale, replacedFormat } from './pipeline/format.js';
import { checkRect, type ImageInfo, inspectImage } from './pipeline/inspect.js';
import { neverHeavier } from './pipeline/negotiate.js';
import { planGeometry, type Size } from './pipeline/plan.js';
import { decode, type Render } from './pipeline/render.js';
import { applySteps } from './pipeline/steps/index.js';
import { smartCropOfFirstFrame } from './pipeline/steps/smart-crop.js';
import { findTrim } from './pipeline/steps/trim.js';

export { configureSharpForLambda } from './pipeline/lambda-sizing.js';
export { type ImageInfo, inspectImage, sharpFailure, type TransformResult };

/** What the miss path knows besides the variant. */
export interface TransformOptions {
  /** The focal point stored with the original (its `focal-point` metadata), used by gravity `focal` without fx/fy. */
  storedFocalPoint?: FocalPoint;
  /** Time left in the miss's budget: the pipeline is stopped (sharp's `timeout`) when it runs out. */
  timeoutMs?: number;
}

/**
 * Renders a variant in the order of operations: EXIF orientation → `rect` →
 * `trim` → `rotate` → `flip` → resize (gravity, smart crop or focal point;
 * never enlarged) → `blur` → `sharpen` → flatten onto `bg` where the output
 * has no alpha → sRGB (ICC profile kept, metadata stripped) → encode.
 *
 * All geometry ends up as one sharp pipeline (pipeline/plan.ts); only `trim`
 * needs a pass of its own, to find the border.
 */
export async function transformImage(
  input: Buffer,
  variant: Variant,
  config: EdgeResizerConfig,
  info?: ImageInfo,
  options: TransformOptions = {},
): Promise<TransformResult> {
  const deadline = Date.now() + (options.timeoutMs ?? config.limits.transformTimeoutMs);
  const inputInfo = info ?? (await inspectImage(input, config));
  const displayed: Size = { width: inputInfo.width, height: inputInfo.height };
  const rect = variant.rect ?? { x: 0, y: 0, ...displayed };
  if (variant.rect) checkRect(variant.rect, displayed);

  try {
    let region = rect;
    if (variant.trim !== undefined) {
      const trimmed = await findTrim({ input, config, deadline }, variant.rect, variant.trim);
      region = { x: rect.x + trimmed.x, y: rect.y + trimmed.y, width: trimmed.width, height: trimmed.height };
    }
    const point = variant.focal ?? options.storedFocalPoint;
    const plan = planGeometry(variant, config.limits.maxDimension, displayed, region, point);
    const format = chooseEncoder(variant, inputInfo, plan.output, config);
    const animated = format === 'webp' && isAnimated(inputInfo, variant);
    if (animated && (plan.gravity === 'attention' || plan.gravity === 'entropy') && plan.resize.kind === 'resize') {
      // libvips' smart crop takes one frame: choose the box on the first, cut it from all.
      plan.resize = await smartCropOfFirstFrame({ input, config, deadline, plan });
    }

    const negotiated = variant.format === 'auto-webp' || variant.format === 'auto-avif';
    const fallback = negotiated && !animated ? replacedFormat(inputInfo) : undefined;
    const encoder = fallback === 'jpeg' && format === 'webp' && keepsJpegScale(inputInfo, plan) ? 'jpeg' : format;
    const render: Render = {
      input,
      info: inputInfo,
      plan,
      variant,
      background: parseBackground(variant.background),
      config,
      deadline,
      format: encoder,
    };
    if (fallback && encoder !== fallback) return await neverHeavier(render, fallback);
    const pipeline = await applySteps(decode(render, { animated, sequentialRead: true }), render);
    return await run(encode(pipeline, encoder, variant.quality, plan.output), encoder);
  } catch (error) {
    throw sharpFailure(error);
  }
}
