/**
 * `gravity=attention`/`entropy` on an animated original: libvips' smart crop
 * takes one frame, so the box is chosen on the first and cut from all (the
 * resize step's crop).
 */
import { clamp, coverScaled, type ResizePlan } from '../plan.js';
import { decode, type Render, toRegion } from '../render.js';

export async function smartCropOfFirstFrame(
  render: Pick<Render, 'input' | 'config' | 'deadline' | 'plan'>,
): Promise<ResizePlan> {
  const { plan } = render;
  const step = plan.resize as Extract<ResizePlan, { kind: 'resize' }>;
  let pipeline = decode(render);
  if (plan.flop) pipeline = pipeline.flop();
  if (plan.extract) pipeline = pipeline.extract(toRegion(plan.extract));
  const { info } = await pipeline
    .resize({ width: step.width, height: step.height, fit: 'cover', position: step.position, withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const scaled = coverScaled(plan.frame, step);
  const width = Math.min(info.width, scaled.width);
  const height = Math.min(info.height, scaled.height);
  const x = clamp(Math.abs(info.cropOffsetLeft ?? 0), 0, scaled.width - width);
  const y = clamp(Math.abs(info.cropOffsetTop ?? 0), 0, scaled.height - height);
  return { kind: 'crop', scaled, box: { x, y, width, height } };
}
