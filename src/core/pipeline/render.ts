/** One render's inputs, and the decode every render's sharp pipeline starts from. */
import sharp, { type Sharp } from 'sharp';
import type { EdgeResizerConfig } from '../config.js';
import type { StepField } from '../params/types.js';
import type { OutputFormat, Rect, Variant } from '../params.js';
import type { Rgba } from './background.js';
import { secondsLeft } from './failures.js';
import type { ImageInfo } from './inspect.js';
import type { Plan } from './plan.js';

/** One render: the original and what is known of it, the plan and the request, the encoder, and when it must end. */
export interface Render {
  input: Buffer;
  info: ImageInfo;
  plan: Plan;
  variant: Variant;
  background: Rgba;
  config: EdgeResizerConfig;
  deadline: number;
  /** The encoder the pixels are made for (JPEG has no alpha: padding and transparency are flattened). */
  format: OutputFormat;
}

/**
 * A step of the pipeline: one concern, applied to sharp's pipeline in the
 * order of `PIPELINE` (steps/index.ts). `fields` names the `Variant` fields
 * (the registry descriptors' `variant.field`) the step carries out.
 */
export interface PipelineStep {
  name: string;
  fields: readonly StepField[];
  /**
   * Whether an animated original stays animated with this step's values:
   * libvips runs a frame strip through the pipeline, which an operation that
   * turns the whole strip or reads across frame boundaries would break.
   */
  framesSafe?: (variant: Variant) => boolean;
  /**
   * sharp runs its operations in an order of its own, whatever order they are
   * called in (it modulates before it sharpens, flattens before both). A step
   * that would run out of the order of operations says so here: the pixels
   * rendered so far become a new pipeline's input `before` it, or `after` it.
   */
  intermediate?: { before?: (render: Render) => boolean; after?: (render: Render) => boolean };
  apply: (image: Sharp, render: Render) => Sharp;
}

/**
 * Decodes the original with EXIF orientation applied (the first operation):
 * a truncated or corrupt image is an error, not a grey half-picture; the
 * pipeline stops when the deadline passes. The render itself reads
 * sequentially; the measuring passes (trim, a first frame's smart crop) as
 * sharp does by default.
 */
export function decode(
  render: Pick<Render, 'input' | 'config' | 'deadline'>,
  options: { animated?: boolean; sequentialRead?: boolean } = {},
): Sharp {
  return sharp(render.input, {
    ...options,
    limitInputPixels: render.config.limits.maxInputPixels,
    failOn: 'error',
  })
    .timeout({ seconds: secondsLeft(render.deadline) })
    .autoOrient();
}

/**
 * The pixels so far, rendered (8 bits per channel: the output's depth) and read
 * back as a new pipeline's input, so operations after it run after it. Only
 * still images get here: an animated render runs no step that needs it.
 */
export async function materialise(image: Sharp, render: Pick<Render, 'deadline'>): Promise<Sharp> {
  const { data, info } = await image.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } }).timeout({
    seconds: secondsLeft(render.deadline),
  });
}

export const toRegion = (rect: Rect) => ({ left: rect.x, top: rect.y, width: rect.width, height: rect.height });
