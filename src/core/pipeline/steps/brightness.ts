/** `brightness`: the pixels' brightness multiplied (sharp's `modulate`, which keeps hue, saturation and alpha). */
import type { PipelineStep } from '../render.js';

export const brightness: PipelineStep = {
  name: 'brightness',
  fields: ['brightness'],
  // sharp modulates before it sharpens, and flattens before it modulates: a `bg` under
  // transparency is flattened after, so the colour asked for is the colour served.
  intermediate: {
    before: ({ variant }) => variant.brightness !== undefined && variant.sharpen !== undefined,
    after: ({ variant, format, info }) => variant.brightness !== undefined && format === 'jpeg' && info.hasAlpha,
  },
  apply: (image, { variant }) =>
    variant.brightness === undefined ? image : image.modulate({ brightness: variant.brightness }),
};
