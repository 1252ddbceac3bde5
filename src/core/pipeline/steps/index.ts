/**
 * The pipeline's steps in the order of operations: the one place the order
 * lives. After the EXIF orientation (the decode): rotate → flip, the region
 * (rect → trim, mapped into the turned frame by plan.ts, so the result is
 * rect → trim → rotate → flip), the resize, then the per-pixel effects in
 * their descriptors' `variant.order`, flatten and sRGB; the encode follows.
 *
 * A new effect is a step file here plus its descriptor in params/registry.ts;
 * test/core/pipeline.test.ts holds this list to the registry (every step
 * field carried out by one step, the effects in descriptor order).
 */
import type { Sharp } from 'sharp';
import type { Variant } from '../../params.js';
import { materialise, type PipelineStep, type Render } from '../render.js';
import { blur } from './blur.js';
import { brightness } from './brightness.js';
import { flatten } from './flatten.js';
import { orient } from './orient.js';
import { region } from './region.js';
import { resize } from './resize.js';
import { sharpen } from './sharpen.js';
import { srgb } from './srgb.js';

export const PIPELINE: readonly PipelineStep[] = [orient, region, resize, blur, sharpen, brightness, flatten, srgb];

/** Every step applied to the decoded image, through an intermediate where a step needs one. */
export async function applySteps(image: Sharp, render: Render): Promise<Sharp> {
  let pipeline = image;
  for (const step of PIPELINE) {
    if (step.intermediate?.before?.(render)) pipeline = await materialise(pipeline, render);
    pipeline = step.apply(pipeline, render);
    if (step.intermediate?.after?.(render)) pipeline = await materialise(pipeline, render);
  }
  return pipeline;
}

/** Whether every step asked for can run on each frame of an animated original. */
export function framesSafe(variant: Variant): boolean {
  return PIPELINE.every((step) => step.framesSafe?.(variant) ?? true);
}
