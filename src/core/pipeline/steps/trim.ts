/**
 * `trim`'s measuring pass: the border it removes, in the frame after EXIF
 * orientation and `rect`: libvips' find-trim against the top-left pixel
 * (sharp's `trim`) on that frame rendered once. sharp trims before its
 * extract, so this cannot share the main pipeline; the box is folded into the
 * region step's one extract.
 */
import sharp from 'sharp';
import type { Rect } from '../../params.js';
import { secondsLeft } from '../failures.js';
import { decode, type Render, toRegion } from '../render.js';

export async function findTrim(
  render: Pick<Render, 'input' | 'config' | 'deadline'>,
  rect: Rect | undefined,
  threshold: number,
): Promise<Rect> {
  let pipeline = decode(render);
  if (rect) pipeline = pipeline.extract(toRegion(rect));
  const frame = await pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const { info } = await sharp(frame.data, {
    raw: { width: frame.info.width, height: frame.info.height, channels: frame.info.channels },
  })
    .timeout({ seconds: secondsLeft(render.deadline) })
    .trim({ threshold })
    .raw()
    .toBuffer({ resolveWithObject: true });
  // sharp reports the offsets as libvips' image offsets: minus the left and top cut.
  return {
    x: Math.abs(info.trimOffsetLeft ?? 0),
    y: Math.abs(info.trimOffsetTop ?? 0),
    width: info.width,
    height: info.height,
  };
}
