/**
 * The resize (gravity, smart crop or focal point; never enlarged): sharp's own
 * resize, or the plan's crop (scale to the cover scale, cut the box).
 */
import { opaque } from '../background.js';
import { type PipelineStep, toRegion } from '../render.js';

export const resize: PipelineStep = {
  name: 'resize',
  fields: [],
  apply(image, { plan, background, format }) {
    const step = plan.resize;
    if (step.kind === 'crop') {
      return image
        .resize({ width: step.scaled.width, height: step.scaled.height, fit: 'fill' })
        .extract(toRegion(step.box));
    }
    // `contain` padding is bg, opaque where the output has no alpha.
    const padding = format !== 'jpeg' ? background : { ...opaque(background), alpha: 1 };
    return image.resize({
      width: step.width,
      height: step.height,
      fit: step.fit,
      position: step.position,
      background: padding,
      withoutEnlargement: true,
    });
  },
};
