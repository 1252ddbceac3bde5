/**
 * "Never heavier" carried out (the policy is never-heavier.ts's): the
 * negotiated encode and the JPEG/PNG it replaces, both from one render's raw
 * pixels. Rendered as for the negotiated format, which keeps a transparent
 * `bg` padding; the JPEG is flattened onto `bg`.
 */
import sharp, { type Sharp } from 'sharp';
import { webpSettings } from '../encoder-policy.js';
import { avifOrJpeg, lossyOrPng, webpOrJpeg } from '../never-heavier.js';
import { opaque } from './background.js';
import { encode, run, type TransformResult } from './encode.js';
import { secondsLeft } from './failures.js';
import { usableCores } from './lambda-sizing.js';
import { decode, type Render } from './render.js';
import { applySteps } from './steps/index.js';

export async function neverHeavier(render: Render, replaced: 'jpeg' | 'png'): Promise<TransformResult> {
  const { plan, variant, format } = render;
  const raw = await rawRender(render);
  const negotiated = () => run(encode(raw(), format, variant.quality, plan.output), format);
  const jpeg = () =>
    run(encode(raw().flatten({ background: opaque(render.background) }), 'jpeg', variant.quality, plan.output), 'jpeg');
  if (replaced === 'png') {
    return lossyOrPng({
      negotiated,
      fastPng: () => raw().png({ compressionLevel: 1, adaptiveFiltering: true }).toBuffer(),
      png: () => run(encode(raw(), 'png', variant.quality, plan.output), 'png'),
    });
  }
  if (format === 'avif') return avifOrJpeg({ avif: negotiated, jpeg });
  const pixels = plan.output.width * plan.output.height;
  const webp = (quality: number) => run(raw().webp({ quality, ...webpSettings(pixels) }), 'webp');
  const baselineJpegBytes = async () =>
    (
      await raw()
        .flatten({ background: opaque(render.background) })
        .jpeg({ quality: variant.quality })
        .toBuffer()
    ).length;
  // A second whole core lets both encodes run at once (never-heavier.ts).
  const parallel = usableCores() >= 2;
  return webpOrJpeg({ jpeg, webp, baselineJpegBytes }, variant.quality, pixels, parallel);
}

/** The pipeline rendered once to raw pixels, and a factory of pipelines reading them (for encoding twice). */
async function rawRender(render: Render): Promise<() => Sharp> {
  const { info, deadline } = render;
  const rendered = await (await applySteps(decode(render, { sequentialRead: true }), render))
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const { width, height, channels } = rendered.info;
  return () => {
    const pipeline = sharp(rendered.data, { raw: { width, height, channels } }).timeout({
      seconds: secondsLeft(deadline),
    });
    return info.untaggedSrgb ? pipeline : pipeline.withIccProfile('srgb');
  };
}
