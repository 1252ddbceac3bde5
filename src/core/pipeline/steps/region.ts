/** `rect` and `trim`: the one extract of rect ∘ trim, mapped by plan.ts into the turned frame. */
import { type PipelineStep, toRegion } from '../render.js';

export const region: PipelineStep = {
  name: 'region',
  fields: ['rect', 'trim'],
  apply: (image, { plan }) => (plan.extract ? image.extract(toRegion(plan.extract)) : image),
};
