/**
 * `rotate` then `flip`, after the EXIF orientation. sharp turns the whole
 * decoded frame (flip/flop, then rotate: plan.ts picks them so the result is
 * rotate-then-flip), which is why plan.ts maps rect and trim into the turned frame.
 */
import type { PipelineStep } from '../render.js';

export const orient: PipelineStep = {
  name: 'orient',
  fields: ['rotate', 'flip'],
  // libvips turns the whole frame strip: 90/270 would be refused, 180 and v reverse the frames' order.
  framesSafe: (variant) => variant.rotate === undefined && (variant.flip === undefined || variant.flip === 'h'),
  apply(image, { plan }) {
    let pipeline = image;
    if (plan.flip) pipeline = pipeline.flip();
    if (plan.flop) pipeline = pipeline.flop();
    if (plan.rotate !== 0) pipeline = pipeline.rotate(plan.rotate);
    return pipeline;
  },
};
