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

export const toRegion = (rect: Rect) => ({ left: rect.x, top: rect.y, width: rect.width, height: rect.height });
