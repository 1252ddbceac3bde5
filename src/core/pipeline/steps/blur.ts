/** `blur`: a Gaussian blur of that sigma, in output pixels (after the resize). */
import type { PipelineStep } from '../render.js';

export const blur: PipelineStep = {
  name: 'blur',
  fields: ['blur'],
  // The kernel would bleed across the frame strip's frame boundaries.
  framesSafe: (variant) => variant.blur === undefined,
  apply: (image, { variant }) => (variant.blur === undefined ? image : image.blur(variant.blur)),
};
