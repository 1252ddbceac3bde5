/** `sharpen`: sharp's `sharpen` of that sigma. */
import type { PipelineStep } from '../render.js';

export const sharpen: PipelineStep = {
  name: 'sharpen',
  fields: ['sharpen'],
  // The kernel would bleed across the frame strip's frame boundaries.
  framesSafe: (variant) => variant.sharpen === undefined,
  apply: (image, { variant }) => (variant.sharpen === undefined ? image : image.sharpen({ sigma: variant.sharpen })),
};
