/**
 * The sharp pipeline: what a variant means in pixels (CONTRACT.md §3) and which
 * inputs are refused (§4). Input limits are checked from the header before any
 * pixel is decoded.
 */
import { availableParallelism } from 'node:os';
import sharp, { type Metadata, type Sharp } from 'sharp';
import type { EdgeResizerConfig } from './config.js';
import { avifQuality, avifSettings, encoderQuality, webpSettings } from './encoder-policy.js';
import { busyError, HttpError } from './errors.js';
import { checkInputPixels, checkOriginalBytes, tooManyPixels } from './limits.js';
import { avifOrJpeg, JPEG_KEPT_AT_SCALE, lossyOrPng, webpOrJpeg } from './never-heavier.js';
import type { FocalPoint, Gravity, OutputFormat, Rect, Rotation, Variant } from './params.js';

/**
 * Sizes libvips for a Lambda: its operation cache pays off for repeated work
 * on one image, not for one transform per request, so it is kept small and
 * file handles are not cached; threads follow the vCPUs Lambda gives for the
 * memory size (about one per 1769 MB).
 */
export function configureSharpForLambda(memoryMb: number, cpus: number): void {
  sharp.cache({ memory: Math.max(16, Math.floor(memoryMb / 32)), files: 0, items: 50 });
  sharp.concurrency(Math.max(1, cpus));
  // The sandbox may report two processors where the memory size pays for one (1,536 MB: ~0.87 vCPU).
  wholeCores = Math.max(1, Math.min(cpus, Math.floor(memoryMb / LAMBDA_MB_PER_VCPU)));
}

/** Lambda gives one vCPU per 1,769 MB of memory ("Lambda memory and computing power"). */
const LAMBDA_MB_PER_VCPU = 1769;
/** Cores two encodes of one miss can run on side by side: set for a Lambda, else the machine's. */
let wholeCores: number | undefined;

/** Input formats we decode (sharp's names: AVIF is reported as `heif`). */
const SUPPORTED_INPUTS = new Set<string>(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);

export const CONTENT_TYPES: Record<OutputFormat, string> = {
  webp: 'image/webp',
  avif: 'image/avif',
  jpeg: 'image/jpeg',
  png: 'image/png',
};

/** What an input is, from its header alone. */
export interface ImageInfo {
  /** sharp's format name, normalized: `avif` rather than `heif`. */
  format: string;
  contentType: string;
  /** As displayed, after EXIF orientation. */
  width: number;
  height: number;
  pages: number;
  hasAlpha: boolean;
  /** sRGB pixels without an ICC profile: already what we output, no profile to attach. */
  untaggedSrgb: boolean;
}

/** What the miss path knows besides the variant. */
export interface TransformOptions {
  /** The focal point stored with the original (its `focal-point` metadata), used by gravity `focal` without fx/fy. */
  storedFocalPoint?: FocalPoint;
  /** Time left in the miss's budget: the pipeline is stopped (sharp's `timeout`) when it runs out. */
  timeoutMs?: number;
}

export interface TransformResult {
  data: Buffer;
  format: OutputFormat;
  contentType: string;
  width: number;
  height: number;
}

/**
 * Reads the header and applies the input limits: unsupported → 415, undecodable
 * → 422, too many pixels (all frames counted) → 413. Decodes no pixels.
 */
export async function inspectImage(
  input: Buffer | { file: string; bytes: number },
  config: EdgeResizerConfig,
): Promise<ImageInfo> {
  // A file (a staged upload being ingested) is read from disk, never held whole.
  const bytes = Buffer.isBuffer(input) ? input.length : input.bytes;
  if (bytes === 0) throw new HttpError('corrupt_image', 'The image is empty');
  checkOriginalBytes(bytes, config);
  let metadata: Metadata;
  try {
    metadata = await sharp(Buffer.isBuffer(input) ? input : input.file, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw decodeError(error);
  }
  const format = metadata.format === 'heif' && metadata.compression === 'av1' ? 'avif' : String(metadata.format);
  if (!SUPPORTED_INPUTS.has(String(metadata.format)) || (metadata.format === 'heif' && format !== 'avif')) {
    throw unsupported(format);
  }
  const pages = metadata.pages ?? 1;
  const storedWidth = metadata.width ?? 0;
  const storedHeight = metadata.pageHeight ?? metadata.height ?? 0;
  checkInputPixels(storedWidth, storedHeight, pages, config);
  // Orientations 5–8 swap the axes.
  const swapped = (metadata.orientation ?? 1) >= 5;
  return {
    format,
    contentType: format === 'avif' ? 'image/avif' : `image/${format}`,
    width: swapped ? storedHeight : storedWidth,
    height: swapped ? storedWidth : storedHeight,
    pages,
    hasAlpha: metadata.hasAlpha ?? false,
    untaggedSrgb: !metadata.hasProfile && metadata.space === 'srgb',
  };
}

/** `format=auto` without WebP: the original's own JPEG or PNG, else PNG if it has alpha, else JPEG. */
export function resolveOutputFormat(variant: Pick<Variant, 'format'>, input: ImageInfo): OutputFormat {
  if (variant.format === 'auto-webp') return 'webp';
  if (variant.format === 'auto-avif') return 'avif';
  if (variant.format !== 'original') return variant.format;
  return replacedFormat(input);
}

/** What `format=auto` answers without WebP or AVIF: the format a negotiated answer must not be heavier than. */
function replacedFormat(input: ImageInfo): 'jpeg' | 'png' {
  if (input.format === 'jpeg' || input.format === 'png') return input.format;
  return input.hasAlpha ? 'png' : 'jpeg';
}

/*
 * Animated input, per operation (an animated original is kept animated only
 * when the output is WebP and every operation asked for can run on each frame;
 * otherwise the first frame is rendered as a still):
 *
 * | operation                                 | animated input                                   |
 * |-------------------------------------------|--------------------------------------------------|
 * | resize, fit, named gravity, focal point   | every frame (one crop box for all frames)        |
 * | `fit=contain` padding, `bg`               | every frame                                      |
 * | `rect`                                    | every frame (the same box cut from each)         |
 * | `trim`                                    | every frame, with the border found on frame one   |
 * | `flip=h`                                  | every frame                                      |
 * | `gravity=attention` / `entropy`           | every frame, with the crop chosen on frame one    |
 * | `rotate` (any), `flip=v` / `hv`           | first frame: libvips turns the whole frame strip  |
 * |                                           | (90/270 are refused, 180 and v reverse the order) |
 * | `blur`, `sharpen`                         | first frame: the kernel would bleed across the    |
 * |                                           | strip's frame boundaries                          |
 * | AVIF output (explicit `format=avif`)      | first frame (sharp writes no animated AVIF);      |
 * |                                           | `format=auto` answers animated WebP instead       |
 * | JPEG / PNG output                         | first frame                                       |
 */
function framesSafe(variant: Variant): boolean {
  return (
    variant.rotate === undefined &&
    (variant.flip === undefined || variant.flip === 'h') &&
    variant.blur === undefined &&
    variant.sharpen === undefined
  );
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

interface Size {
  width: number;
  height: number;
}

interface Rgba {
  r: number;
  g: number;
  b: number;
  alpha: number;
}

/** How the frame being cropped (after rect, trim, rotate and flip) becomes the output. */
type ResizeStep =
  /** Keep the aspect ratio inside a box: one dimension or none given, or `fit=inside`. */
  | { kind: 'resize'; width: number; height: number; fit: Variant['fit']; position: string }
  /** A crop of our own: scale to `scaled` (the cover scale), then cut `box` out of it. */
  | { kind: 'crop'; scaled: Size; box: Rect };

/** Everything decided before pixels are touched. */
interface Plan {
  /** sharp applies flip/flop before rotate; these are chosen so the result is §3's rotate-then-flip. */
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
  resize: ResizeStep;
  output: Size;
}

/**
 * Renders a variant in CONTRACT.md §3's order: EXIF orientation → `rect` →
 * `trim` → `rotate` → `flip` → resize (gravity, smart crop or focal point;
 * never enlarged) → `blur` → `sharpen` → flatten onto `bg` where the output
 * has no alpha → sRGB (ICC profile kept, metadata stripped) → encode.
 *
 * All geometry ends up as one sharp pipeline: rotate/flip are applied first
 * (sharp's own order), and rect, trim box and focal crop are mapped into that
 * rotated frame, so the result equals §3's order without an intermediate image.
 * Only `trim` needs a pass of its own, to find the border.
 */
export async function transformImage(
  input: Buffer,
  variant: Variant,
  config: EdgeResizerConfig,
  info?: ImageInfo,
  options: TransformOptions = {},
): Promise<TransformResult> {
  const deadline = Date.now() + (options.timeoutMs ?? config.limits.transformTimeoutMs);
  const inputInfo = info ?? (await inspectImage(input, config));
  const displayed: Size = { width: inputInfo.width, height: inputInfo.height };
  const rect = variant.rect ?? { x: 0, y: 0, ...displayed };
  if (variant.rect) checkRect(variant.rect, displayed);

  try {
    let region = rect;
    if (variant.trim !== undefined) {
      const trimmed = await findTrim(input, variant.rect, variant.trim, config, deadline);
      region = { x: rect.x + trimmed.x, y: rect.y + trimmed.y, width: trimmed.width, height: trimmed.height };
    }
    const plan = planGeometry(variant, config, displayed, region, variant.focal ?? options.storedFocalPoint);
    const format = chooseEncoder(variant, inputInfo, plan.output, config);
    const animated = inputInfo.pages > 1 && format === 'webp' && framesSafe(variant);
    if (animated && (plan.gravity === 'attention' || plan.gravity === 'entropy') && plan.resize.kind === 'resize') {
      // libvips' smart crop takes one frame: choose the box on the first, cut it from all.
      plan.resize = await smartCropOfFirstFrame(input, plan, config, deadline);
    }
    const render: Render = {
      input,
      info: inputInfo,
      plan,
      variant,
      background: parseBackground(variant.background),
      config,
      deadline,
    };

    const negotiated = variant.format === 'auto-webp' || variant.format === 'auto-avif';
    const fallback = negotiated && !animated ? replacedFormat(inputInfo) : undefined;
    const encoder = fallback === 'jpeg' && format === 'webp' && keepsJpegScale(inputInfo, plan) ? 'jpeg' : format;
    if (fallback && encoder !== fallback) return await neverHeavier(render, fallback, encoder);
    let pipeline = geometry(render, encoder, animated);
    pipeline = finish(pipeline, inputInfo);
    pipeline = encode(pipeline, encoder, variant.quality, plan.output);
    return await run(pipeline, encoder);
  } catch (error) {
    throw sharpFailure(error);
  }
}

/** A rect must lie inside the displayed original (§3); only here is its size known. */
function checkRect(rect: Rect, image: Size): void {
  if (rect.x + rect.width > image.width || rect.y + rect.height > image.height) {
    throw new HttpError(
      'invalid_param',
      `Expected rect inside the image's ${image.width}×${image.height} pixels but received '${rect.x},${rect.y},${rect.width},${rect.height}'`,
    );
  }
}

/** The encoder for a variant: explicit formats as asked; `auto-avif` over the stage's pixel cap (or off) as `auto-webp`. */
function chooseEncoder(variant: Variant, input: ImageInfo, output: Size, config: EdgeResizerConfig): OutputFormat {
  if (variant.format === 'auto-avif') {
    const animated = input.pages > 1 && framesSafe(variant);
    const tooLarge = output.width * output.height > config.avifMaxOutputPixels;
    if (animated || tooLarge || !config.autoAvif) return 'webp';
  }
  return resolveOutputFormat(variant, input);
}

/**
 * The geometry of §3 worked out on sizes alone. Frames: D0 the displayed
 * original; `region` = rect ∘ trim in D0; D3 = `region` rotated then flipped.
 * sharp sees D0 rotated/flipped as a whole, then extracts `region` mapped into it.
 */
function planGeometry(
  variant: Variant,
  config: EdgeResizerConfig,
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
  const frame: Size = quarter
    ? { width: region.height, height: region.width }
    : { width: region.width, height: region.height };

  let focal: Plan['focal'];
  if (point) {
    // Into the region (clamped), then turned and mirrored like the pixels.
    const x = clamp(point.x * displayed.width - region.x, 0, region.width);
    const y = clamp(point.y * displayed.height - region.y, 0, region.height);
    focal = mapPoint({ x, y }, { width: region.width, height: region.height }, rotate, flipH, flipV);
  }
  // Absent is `focal`: params.ts has already put the stage's defaultGravity into the variant.
  const gravity: Gravity = variant.focal ? 'focal' : (variant.gravity ?? 'focal');

  const max = config.limits.maxDimension;
  const { width, height } = variant;
  let resize: ResizeStep;
  let output: Size;
  if (width === undefined || height === undefined) {
    // One dimension or none: keep the aspect ratio and bound the other side by
    // maxDimension, so no output exceeds the limit whatever the input's shape.
    resize = { kind: 'resize', width: width ?? max, height: height ?? max, fit: 'inside', position: 'centre' };
    const scale = Math.min(1, (width ?? max) / frame.width, (height ?? max) / frame.height);
    output = {
      width: Math.max(1, Math.round(frame.width * scale)),
      height: Math.max(1, Math.round(frame.height * scale)),
    };
  } else if (variant.fit === 'cover' && gravity === 'focal' && focal) {
    resize = focalCrop(frame, { width, height }, focal);
    output = { width: resize.box.width, height: resize.box.height };
  } else {
    let position: string = 'centre';
    if (variant.fit === 'cover' && (gravity === 'attention' || gravity === 'entropy')) position = gravity;
    else if (gravity in SHARP_POSITION) position = SHARP_POSITION[gravity as keyof typeof SHARP_POSITION];
    resize = { kind: 'resize', width, height, fit: variant.fit, position };
    output = fittedSize(frame, { width, height }, variant.fit);
  }
  return { flip, flop, rotate, extract, frame, focal, gravity, resize, output };
}

/**
 * The focal crop: the largest box of the target's aspect around the point,
 * clamped into the frame, scaled to the target (never enlarged: at scale 1 the
 * box is the target clipped to the frame, as sharp's own cover does).
 */
function focalCrop(frame: Size, target: Size, point: { x: number; y: number }): Extract<ResizeStep, { kind: 'crop' }> {
  const scale = Math.min(1, Math.max(target.width / frame.width, target.height / frame.height));
  const scaled = {
    width: Math.max(1, Math.round(frame.width * scale)),
    height: Math.max(1, Math.round(frame.height * scale)),
  };
  const width = Math.min(target.width, scaled.width);
  const height = Math.min(target.height, scaled.height);
  const x = clamp(Math.round(point.x * scale - width / 2), 0, scaled.width - width);
  const y = clamp(Math.round(point.y * scale - height / 2), 0, scaled.height - height);
  return { kind: 'crop', scaled, box: { x, y, width, height } };
}

/** The output size sharp's `fit` gives without enlargement (to pick AVIF settings before encoding). */
function fittedSize(frame: Size, target: Size, fit: Variant['fit']): Size {
  const sx = target.width / frame.width;
  const sy = target.height / frame.height;
  const round = (n: number) => Math.max(1, Math.round(n));
  switch (fit) {
    case 'cover':
      return { width: Math.min(target.width, frame.width), height: Math.min(target.height, frame.height) };
    case 'contain':
      return Math.min(sx, sy) >= 1 ? frame : target;
    case 'fill':
      return { width: Math.min(target.width, frame.width), height: Math.min(target.height, frame.height) };
    case 'inside': {
      const s = Math.min(1, sx, sy);
      return { width: round(frame.width * s), height: round(frame.height * s) };
    }
    case 'outside': {
      const s = Math.min(1, Math.max(sx, sy));
      return { width: round(frame.width * s), height: round(frame.height * s) };
    }
  }
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

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** The pipeline up to the effects: decode, orient, rotate/flip, extract, resize, blur, sharpen, flatten. */
/** One render: the original and what is known of it, the plan and the request, and when it must end. */
interface Render {
  input: Buffer;
  info: ImageInfo;
  plan: Plan;
  variant: Variant;
  background: Rgba;
  config: EdgeResizerConfig;
  deadline: number;
}

function geometry(render: Render, format: OutputFormat, animated: boolean): Sharp {
  const { input, plan, variant, background, config, deadline } = render;
  let pipeline: Sharp = sharp(input, {
    animated,
    limitInputPixels: config.limits.maxInputPixels,
    // A truncated or corrupt image is an error, not a grey half-picture.
    failOn: 'error',
    sequentialRead: true,
  })
    .timeout({ seconds: secondsLeft(deadline) })
    .autoOrient();
  if (plan.flip) pipeline = pipeline.flip();
  if (plan.flop) pipeline = pipeline.flop();
  if (plan.rotate !== 0) pipeline = pipeline.rotate(plan.rotate);
  if (plan.extract) pipeline = pipeline.extract(toRegion(plan.extract));
  const hasAlpha = format !== 'jpeg';
  const padding = hasAlpha ? background : { ...opaque(background), alpha: 1 };
  const step = plan.resize;
  if (step.kind === 'resize') {
    pipeline = pipeline.resize({
      width: step.width,
      height: step.height,
      fit: step.fit,
      position: step.position,
      background: padding,
      withoutEnlargement: true,
    });
  } else {
    pipeline = pipeline
      .resize({ width: step.scaled.width, height: step.scaled.height, fit: 'fill' })
      .extract(toRegion(step.box));
  }
  if (variant.blur !== undefined) pipeline = pipeline.blur(variant.blur);
  if (variant.sharpen !== undefined) pipeline = pipeline.sharpen({ sigma: variant.sharpen });
  // JPEG has no alpha: flatten onto bg (white unless asked), as a page background most likely is, rather than libvips' black.
  if (!hasAlpha) pipeline = pipeline.flatten({ background: opaque(background) });
  return pipeline;
}

/** sRGB with the ICC profile kept, metadata stripped. */
function finish(pipeline: Sharp, input: ImageInfo): Sharp {
  pipeline = pipeline.toColourspace('srgb');
  // An untagged sRGB input is sRGB by convention and stays untagged: converting
  // through a profile would cost ~4 ms a miss and ~5% of the bytes for nothing.
  return input.untaggedSrgb ? pipeline : pipeline.withIccProfile('srgb');
}

async function run(pipeline: Sharp, format: OutputFormat): Promise<TransformResult> {
  const { data, info: out } = await pipeline.toBuffer({ resolveWithObject: true });
  return {
    data,
    format,
    contentType: CONTENT_TYPES[format],
    width: out.width,
    height: out.pageHeight ?? out.height,
  };
}

const toRegion = (rect: Rect) => ({ left: rect.x, top: rect.y, width: rect.width, height: rect.height });

/** `rrggbbaa` (absent: opaque white) → sharp's colour. */
function parseBackground(hex: string | undefined): Rgba {
  const value = hex ?? 'ffffffff';
  const byte = (i: number) => Number.parseInt(value.slice(i, i + 2), 16);
  return { r: byte(0), g: byte(2), b: byte(4), alpha: value.length >= 8 ? byte(6) / 255 : 1 };
}

/** bg as JPEG can show it: composited over white, as a page most likely is. */
function opaque(colour: Rgba): { r: number; g: number; b: number } {
  const over = (c: number) => Math.round(c * colour.alpha + 255 * (1 - colour.alpha));
  return { r: over(colour.r), g: over(colour.g), b: over(colour.b) };
}

/**
 * The border `trim` removes, in the frame after EXIF orientation and `rect`:
 * libvips' find-trim against the top-left pixel (sharp's `trim`) on that frame
 * rendered once. sharp trims before its extract, so this cannot share the main
 * pipeline; the box is then folded into the main pipeline's one extract.
 */
async function findTrim(
  input: Buffer,
  rect: Rect | undefined,
  threshold: number,
  config: EdgeResizerConfig,
  deadline: number,
): Promise<Rect> {
  let pipeline = sharp(input, { limitInputPixels: config.limits.maxInputPixels, failOn: 'error' })
    .timeout({ seconds: secondsLeft(deadline) })
    .autoOrient();
  if (rect) pipeline = pipeline.extract(toRegion(rect));
  const frame = await pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const { info } = await sharp(frame.data, {
    raw: { width: frame.info.width, height: frame.info.height, channels: frame.info.channels },
  })
    .timeout({ seconds: secondsLeft(deadline) })
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

/** Runs the smart crop on the first frame alone and returns the same crop as a box for every frame. */
async function smartCropOfFirstFrame(
  input: Buffer,
  plan: Plan,
  config: EdgeResizerConfig,
  deadline: number,
): Promise<ResizeStep> {
  const step = plan.resize as Extract<ResizeStep, { kind: 'resize' }>;
  let pipeline = sharp(input, { limitInputPixels: config.limits.maxInputPixels, failOn: 'error' })
    .timeout({ seconds: secondsLeft(deadline) })
    .autoOrient();
  if (plan.flop) pipeline = pipeline.flop();
  if (plan.extract) pipeline = pipeline.extract(toRegion(plan.extract));
  const { info } = await pipeline
    .resize({ width: step.width, height: step.height, fit: 'cover', position: step.position, withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const scale = Math.min(1, Math.max(step.width / plan.frame.width, step.height / plan.frame.height));
  const scaled = {
    width: Math.max(1, Math.round(plan.frame.width * scale)),
    height: Math.max(1, Math.round(plan.frame.height * scale)),
  };
  const width = Math.min(info.width, scaled.width);
  const height = Math.min(info.height, scaled.height);
  const x = clamp(Math.abs(info.cropOffsetLeft ?? 0), 0, scaled.width - width);
  const y = clamp(Math.abs(info.cropOffsetTop ?? 0), 0, scaled.height - height);
  return { kind: 'crop', scaled, box: { x, y, width, height } };
}

/** Whether a JPEG original is re-encoded at ≥ JPEG_KEPT_AT_SCALE of its linear size (never-heavier.ts says why). */
function keepsJpegScale(input: ImageInfo, plan: Plan): boolean {
  return input.format === 'jpeg' && linearScale(plan) >= JPEG_KEPT_AT_SCALE;
}

/** How much the resize shrinks the (cropped) frame along its sides: 1 when not resized. */
function linearScale(plan: Plan): number {
  const { frame, resize } = plan;
  if (resize.kind === 'crop') return Math.min(1, resize.scaled.width / frame.width);
  const sx = resize.width / frame.width;
  const sy = resize.height / frame.height;
  const covers = resize.fit === 'cover' || resize.fit === 'outside' || resize.fit === 'fill';
  return Math.min(1, covers ? Math.max(sx, sy) : Math.min(sx, sy));
}

/**
 * §3's "never heavier" (never-heavier.ts): the negotiated encode and the
 * JPEG/PNG it replaces, both from one render's raw pixels. Rendered as for
 * the negotiated format, which keeps a transparent `bg` padding; the JPEG is
 * flattened onto `bg`.
 */
async function neverHeavier(render: Render, replaced: 'jpeg' | 'png', format: OutputFormat): Promise<TransformResult> {
  const { plan, variant } = render;
  const raw = await rawRender(render, format);
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
  const parallel = (wholeCores ?? availableParallelism()) >= 2;
  return webpOrJpeg({ jpeg, webp, baselineJpegBytes }, variant.quality, pixels, parallel);
}

/** The pipeline rendered once to raw pixels, and a factory of pipelines reading them (for encoding twice). */
async function rawRender(render: Render, format: OutputFormat): Promise<() => Sharp> {
  const { info: inputInfo, deadline } = render;
  const rendered = await finish(geometry(render, format, false), inputInfo)
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const { width, height, channels } = rendered.info;
  return () => {
    const pipeline = sharp(rendered.data, { raw: { width, height, channels } }).timeout({
      seconds: secondsLeft(deadline),
    });
    return inputInfo.untaggedSrgb ? pipeline : pipeline.withIccProfile('srgb');
  };
}

/**
 * sharp's `timeout` for the time left before `deadline`: libvips stops the
 * pipeline (and frees its threads) once it has run that long, so a miss that
 * answered 503 does not keep a core busy. sharp counts whole seconds (≥ 1), so
 * the work ends at most a second after the budget; none left is `busy` at once.
 */
function secondsLeft(deadline: number): number {
  const ms = deadline - Date.now();
  if (ms <= 0) throw tookTooLong();
  return Math.max(1, Math.ceil(ms / 1000));
}

function tookTooLong(cause?: unknown): HttpError {
  return busyError('The image took too long to transform; try again', { cause });
}

/** The encoder at `quality` on JPEG's scale, mapped to its own (§3); AVIF effort by output size. */
function encode(pipeline: Sharp, format: OutputFormat, quality: number, output: Size): Sharp {
  switch (format) {
    case 'webp':
      return pipeline.webp({ quality: encoderQuality('webp', quality), ...webpSettings(output.width * output.height) });
    case 'avif':
      // `threads` of the policy is process-wide (sharp.concurrency), set where the process is sized, not here.
      // The quality follows the effort band, so the faster efforts of large outputs keep the same look.
      return pipeline.avif({
        quality: avifQuality(quality, output.width * output.height),
        effort: avifSettings(output.width * output.height).effort,
      });
    case 'jpeg':
      // mozjpeg's trellis quantisation: smaller files at the same quality, progressive for perceived speed.
      return pipeline.jpeg({ quality, mozjpeg: true });
    case 'png':
      return pipeline.png({ compressionLevel: 8, adaptiveFiltering: true });
  }
}

function unsupported(format: string): HttpError {
  return new HttpError(
    'unsupported_format',
    `Unsupported image format '${format}': expected JPEG, PNG, WebP, AVIF, GIF or TIFF`,
  );
}

/**
 * What a sharp pipeline threw → the contract's error: its own `timeout` (the
 * budget ran out) is `busy`, anything else a decode failure. Errors already
 * the contract's pass through.
 */
export function sharpFailure(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof Error && /timeout/i.test(error.message)) return tookTooLong(error);
  return decodeError(error);
}

/** sharp's errors → contract errors; its text never reaches the user. */
function decodeError(error: unknown): HttpError {
  const message = error instanceof Error ? error.message : String(error);
  if (/unsupported image format/i.test(message)) return unsupported('unknown');
  if (/pixel limit/i.test(message)) return tooManyPixels(error);
  return new HttpError('corrupt_image', 'The image could not be decoded', { cause: error });
}
