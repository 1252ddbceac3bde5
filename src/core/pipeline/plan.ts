/**
 * The geometry of a variant worked out on sizes alone, before a pixel is
 * touched: which rotate/flip, which box to extract, how the frame becomes the
 * output and the output's size. Pure (no sharp): the playground predicts sizes
 * with the same `fittedSize`.
 *
 * Frames: D0 the displayed original (after EXIF orientation); `region` = rect
 * ∘ trim in D0; the frame = `region` rotated then flipped. sharp turns D0 as a
 * whole first (its own order), so `region` is mapped into the turned D0: one
 * extract then gives the order of operations rect → trim → rotate → flip.
 */
import type { FocalPoint, Gravity, Rect, Rotation, Variant } from '../params.js';

type FitMode = Variant['fit'];

export interface Size {
  width: number;
  height: number;
}

/** How the frame being cropped (after rect, trim, rotate and flip) becomes the output. */
export type ResizePlan =
  /** sharp's own resize: one dimension or none given (as `inside` bounded by maxDimension), or both with a `fit`. */
  | { kind: 'resize'; width: number; height: number; fit: FitMode; position: string }
  /** A crop of our own: scale to `scaled` (the cover scale), then cut `box` out of it. */
  | { kind: 'crop'; scaled: Size; box: Rect };

/** Everything decided before pixels are touched. */
export interface Plan {
  /** sharp applies flip/flop before rotate; these are chosen so the result is rotate-then-flip. */
  flip: boolean;
  flop: boolean;
  rotate: Rotation;
  /** rect ∘ trim, in the frame after EXIF orientation, rotate and flip. */
  extract?: Rect;
  /** The frame being cropped. */
  frame: Size;
  /** The focal point in `frame`'s pixels, when one applies (explicit or stored). */
  focal?: { x: number; y: number };
  gravity: Gravity;
  resize: ResizePlan;
  output: Size;
}

/** sharp's names for the named gravities. */
const SHARP_POSITION = {
  center: 'centre',
  top: 'north',
  bottom: 'south',
  left: 'west',
  right: 'east',
  'top-left': 'northwest',
  'top-right': 'northeast',
  'bottom-left': 'southwest',
  'bottom-right': 'southeast',
} as const satisfies Partial<Record<Gravity, string>>;

/** `region` (rect ∘ trim, in the displayed original) and the variant → the plan. */
export function planGeometry(
  variant: Variant,
  maxDimension: number,
  displayed: Size,
  region: Rect,
  point: FocalPoint | undefined,
): Plan {
  const rotate: Rotation = variant.rotate ?? 0;
  const quarter = rotate === 90 || rotate === 270;
  const flipH = variant.flip === 'h' || variant.flip === 'hv';
  const flipV = variant.flip === 'v' || variant.flip === 'hv';
  // Mirroring after a quarter turn is mirroring the other axis before it.
  const flop = quarter ? flipV : flipH;
  const flip = quarter ? flipH : flipV;

  const whole =
    region.x === 0 && region.y === 0 && region.width === displayed.width && region.height === displayed.height;
  const extract = whole ? undefined : mapRect(region, displayed, rotate, flipH, flipV);
  const frame = turnedSize(region, rotate);

  let focal: Plan['focal'];
  if (point) {
    // Into the region (clamped), then turned and mirrored like the pixels.
    const x = clamp(point.x * displayed.width - region.x, 0, region.width);
    const y = clamp(point.y * displayed.height - region.y, 0, region.height);
    focal = mapPoint({ x, y }, { width: region.width, height: region.height }, rotate, flipH, flipV);
  }
  // Absent is `focal`: params.ts has already put the stage's defaultGravity into the variant.
  const gravity: Gravity = variant.focal ? 'focal' : (variant.gravity ?? 'focal');

  const { width, height } = variant;
  const output = fittedSize(frame, { width, height }, variant.fit, maxDimension);
  let resize: ResizePlan;
  if (width === undefined || height === undefined) {
    // One dimension or none: keep the aspect ratio and bound the other side by
    // maxDimension, so no output exceeds the limit whatever the input's shape.
    resize = {
      kind: 'resize',
      width: width ?? maxDimension,
      height: height ?? maxDimension,
      fit: 'inside',
      position: 'centre',
    };
  } else if (variant.fit === 'cover' && gravity === 'focal' && focal) {
    const crop = focalCrop(frame, { width, height }, focal);
    return {
      flip,
      flop,
      rotate,
      extract,
      frame,
      focal,
      gravity,
      resize: crop,
      output: { width: crop.box.width, height: crop.box.height },
    };
  } else {
    let position: string = 'centre';
    if (variant.fit === 'cover' && (gravity === 'attention' || gravity === 'entropy')) position = gravity;
    else if (gravity in SHARP_POSITION) position = SHARP_POSITION[gravity as keyof typeof SHARP_POSITION];
    resize = { kind: 'resize', width, height, fit: variant.fit, position };
  }
  return { flip, flop, rotate, extract, frame, focal, gravity, resize, output };
}

/** A size after a turn by `rotate`: a quarter turn swaps the sides. */
export function turnedSize(size: Size, rotate: Rotation | undefined): Size {
  const quarter = rotate === 90 || rotate === 270;
  return quarter ? { width: size.height, height: size.width } : { width: size.width, height: size.height };
}

/**
 * The output size of resizing `frame` to `target` as sharp does it, never
 * enlarging (`withoutEnlargement`). One dimension or none keeps the aspect
 * ratio, the missing side bounded by `maxDimension`; `contain` always answers
 * the box (the picture inside is not enlarged, the padding is); `cover` and
 * `fill` the box clipped to the frame; `inside`/`outside` the frame scaled.
 */
export function fittedSize(
  frame: Size,
  target: { width?: number | undefined; height?: number | undefined },
  fit: FitMode,
  maxDimension: number,
): Size {
  const round = (n: number) => Math.max(1, Math.round(n));
  const scaled = (s: number) => ({ width: round(frame.width * s), height: round(frame.height * s) });
  if (target.width === undefined || target.height === undefined) {
    return scaled(
      Math.min(1, (target.width ?? maxDimension) / frame.width, (target.height ?? maxDimension) / frame.height),
    );
  }
  const { width, height } = target;
  const sx = width / frame.width;
  const sy = height / frame.height;
  switch (fit) {
    case 'cover':
    case 'fill':
      return { width: Math.min(width, frame.width), height: Math.min(height, frame.height) };
    case 'contain':
      return { width, height };
    case 'inside':
      return scaled(Math.min(1, sx, sy));
    case 'outside':
      return scaled(Math.min(1, Math.max(sx, sy)));
  }
}

/**
 * The focal crop: the largest box of the target's aspect around the point,
 * clamped into the frame, scaled to the target (never enlarged: at scale 1 the
 * box is the target clipped to the frame, as sharp's own cover does).
 */
function focalCrop(frame: Size, target: Size, point: { x: number; y: number }): Extract<ResizePlan, { kind: 'crop' }> {
  const scale = coverScale(frame, target);
  const scaled = coverScaled(frame, target);
  const width = Math.min(target.width, scaled.width);
  const height = Math.min(target.height, scaled.height);
  const x = clamp(Math.round(point.x * scale - width / 2), 0, scaled.width - width);
  const y = clamp(Math.round(point.y * scale - height / 2), 0, scaled.height - height);
  return { kind: 'crop', scaled, box: { x, y, width, height } };
}

/** The scale `cover` applies to reach `target`, never enlarging. */
function coverScale(frame: Size, target: Size): number {
  return Math.min(1, Math.max(target.width / frame.width, target.height / frame.height));
}

/** The frame scaled as `cover` scales it toward `target`, never enlarged. */
export function coverScaled(frame: Size, target: Size): Size {
  const scale = coverScale(frame, target);
  return {
    width: Math.max(1, Math.round(frame.width * scale)),
    height: Math.max(1, Math.round(frame.height * scale)),
  };
}

/** How much the resize shrinks the (cropped) frame along its sides: 1 when not resized. */
export function linearScale(plan: Plan): number {
  const { frame, resize } = plan;
  if (resize.kind === 'crop') return Math.min(1, resize.scaled.width / frame.width);
  const sx = resize.width / frame.width;
  const sy = resize.height / frame.height;
  const covers = resize.fit === 'cover' || resize.fit === 'outside' || resize.fit === 'fill';
  return Math.min(1, covers ? Math.max(sx, sy) : Math.min(sx, sy));
}

/** A point of a `size` frame after turning it clockwise by `rotate` and then mirroring. */
function mapPoint(
  point: { x: number; y: number },
  size: Size,
  rotate: Rotation,
  flipH: boolean,
  flipV: boolean,
): { x: number; y: number } {
  let { x, y } = point;
  let { width, height } = size;
  if (rotate === 90) [x, y, width, height] = [height - y, x, height, width];
  else if (rotate === 180) [x, y] = [width - x, height - y];
  else if (rotate === 270) [x, y, width, height] = [y, width - x, height, width];
  if (flipH) x = width - x;
  if (flipV) y = height - y;
  return { x, y };
}

function mapRect(rect: Rect, size: Size, rotate: Rotation, flipH: boolean, flipV: boolean): Rect {
  const a = mapPoint({ x: rect.x, y: rect.y }, size, rotate, flipH, flipV);
  const b = mapPoint({ x: rect.x + rect.width, y: rect.y + rect.height }, size, rotate, flipH, flipV);
  return {
    x: Math.min(a.x, b.x),
    y: Math.min(a.y, b.y),
    width: Math.abs(a.x - b.x),
    height: Math.abs(a.y - b.y),
  };
}

export function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
