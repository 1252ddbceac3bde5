/** Transparency flattened onto `bg` where the output has no alpha (JPEG). */
import { opaque } from '../background.js';
import type { PipelineStep } from '../render.js';

export const flatten: PipelineStep = {
  name: 'flatten',
  fields: ['background'],
  // White unless asked, as a page background most likely is, rather than libvips' black.
  apply: (image, { background, format }) =>
    format === 'jpeg' ? image.flatten({ background: opaque(background) }) : image,
};
