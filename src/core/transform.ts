/**
 * The sharp pipeline: what a variant means in pixels (CONTRACT.md §3) and which
 * inputs are refused (§4). Input limits are checked from the header before any
 * pixel is decoded.
 */
import sharp, { type Metadata, type Sharp } from 'sharp';
import type { EdgeResizerConfig } from './config.js';
import { HttpError } from './errors.js';
import type { FocalPoint, OutputFormat, Variant } from './params.js';

/**
 * Sizes libvips for a Lambda: its operation cache pays off for repeated work
 * on one image, not for one transform per request, so it is kept small and
 * file handles are not cached; threads follow the vCPUs Lambda gives for the
 * memory size (about one per 1769 MB).
 */
export function configureSharpForLambda(memoryMb: number, cpus: number): void {
  sharp.cache({ memory: Math.max(16, Math.floor(memoryMb / 32)), files: 0, items: 50 });
  sharp.concurrency(Math.max(1, cpus));
}

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
export async function inspectImage(input: Buffer, config: EdgeResizerConfig): Promise<ImageInfo> {
  if (input.length === 0) throw new HttpError('corrupt_image', 'The image is empty');
  if (input.length > config.limits.maxOriginalBytes) throw tooLargeBytes(config);
  let metadata: Metadata;
  try {
    metadata = await sharp(input, { limitInputPixels: false }).metadata();
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
  const totalPixels = storedWidth * storedHeight * pages;
  if (totalPixels > config.limits.maxInputPixels) {
    const frames = pages > 1 ? `${pages} frames of ` : '';
    throw new HttpError(
      'too_large',
      `The image has ${frames}${storedWidth}×${storedHeight} pixels (${megapixels(totalPixels)} MP); the limit is ${megapixels(config.limits.maxInputPixels)} MP`,
    );
  }
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
export function resolveOutputFormat(variant: Variant, input: ImageInfo): OutputFormat {
  if (variant.format === 'auto-webp') return 'webp';
  if (variant.format === 'auto-avif') return 'avif';
  if (variant.format !== 'original') return variant.format;
  if (input.format === 'jpeg' || input.format === 'png') return input.format;
  return input.hasAlpha ? 'png' : 'jpeg';
}

/**
 * Renders a variant: EXIF auto-orient, resize without enlargement, sRGB with
 * the ICC profile kept, metadata stripped, then the encoder. Animated input
 * stays animated when the output is WebP; otherwise the first frame is used.
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
  const format = resolveOutputFormat(variant, inputInfo);
  const animated = inputInfo.pages > 1 && format === 'webp';
  const max = config.limits.maxDimension;
  let pipeline: Sharp = sharp(input, {
    animated,
    limitInputPixels: config.limits.maxInputPixels,
    // A truncated or corrupt image is an error, not a grey half-picture.
    failOn: 'error',
    sequentialRead: true,
  })
    .timeout({ seconds: secondsLeft(deadline) })
    .autoOrient();

  const { width, height } = variant;
  if (width !== undefined && height !== undefined) {
    pipeline = pipeline.resize({ width, height, fit: variant.fit, withoutEnlargement: true });
  } else {
    // One dimension or none: keep the aspect ratio and bound the other side by
    // maxDimension, so no output exceeds the limit whatever the input's shape.
    pipeline = pipeline.resize({ width: width ?? max, height: height ?? max, fit: 'inside', withoutEnlargement: true });
  }
  // JPEG has no alpha: flatten on white, as a page background most likely is, rather than libvips' black.
  if (format === 'jpeg' && inputInfo.hasAlpha) pipeline = pipeline.flatten({ background: '#ffffff' });
  pipeline = pipeline.toColourspace('srgb');
  // An untagged sRGB input is sRGB by convention and stays untagged: converting
  // through a profile would cost ~4 ms a miss and ~5% of the bytes for nothing.
  if (!inputInfo.untaggedSrgb) pipeline = pipeline.withIccProfile('srgb');
  pipeline = encode(pipeline, format, variant.quality, config);

  try {
    const { data, info: out } = await pipeline.toBuffer({ resolveWithObject: true });
    return {
      data,
      format,
      contentType: CONTENT_TYPES[format],
      width: out.width,
      height: out.pageHeight ?? out.height,
    };
  } catch (error) {
    if (error instanceof Error && /timeout/i.test(error.message)) {
      throw busy(error);
    }
    throw decodeError(error);
  }
}

/**
 * sharp's `timeout` for the time left before `deadline`: libvips stops the
 * pipeline (and frees its threads) once it has run that long, so a miss that
 * answered 503 does not keep a core busy. sharp counts whole seconds (≥ 1), so
 * the work ends at most a second after the budget; none left is `busy` at once.
 */
function secondsLeft(deadline: number): number {
  const ms = deadline - Date.now();
  if (ms <= 0) throw busy();
  return Math.max(1, Math.ceil(ms / 1000));
}

function busy(cause?: unknown): HttpError {
  return new HttpError('busy', 'The image took too long to transform; try again', {
    cause,
    headers: { 'Retry-After': '1' },
  });
}

function encode(pipeline: Sharp, format: OutputFormat, quality: number, config: EdgeResizerConfig): Sharp {
  switch (format) {
    case 'webp':
      return pipeline.webp({ quality });
    case 'avif':
      return pipeline.avif({ quality, effort: config.avifEffort });
    case 'jpeg':
      // mozjpeg's trellis quantisation: smaller files at the same quality, progressive for perceived speed.
      return pipeline.jpeg({ quality, mozjpeg: true });
    case 'png':
      return pipeline.png({ compressionLevel: 8, adaptiveFiltering: true });
  }
}

/** Megapixels to three significant digits: 125, 100, 0.0768. */
function megapixels(pixels: number): number {
  return Number((pixels / 1e6).toPrecision(3));
}

function tooLargeBytes(config: EdgeResizerConfig): HttpError {
  return new HttpError('too_large', `The image is larger than ${config.limits.maxOriginalBytes / 1024 / 1024} MB`);
}

function unsupported(format: string): HttpError {
  return new HttpError(
    'unsupported_format',
    `Unsupported image format '${format}': expected JPEG, PNG, WebP, AVIF, GIF or TIFF`,
  );
}

/** sharp's errors → contract errors; its text never reaches the user. */
function decodeError(error: unknown): HttpError {
  const message = error instanceof Error ? error.message : String(error);
  if (/unsupported image format/i.test(message)) return unsupported('unknown');
  if (/pixel limit/i.test(message))
    return new HttpError('too_large', 'The image has too many pixels', { cause: error });
  return new HttpError('corrupt_image', 'The image could not be decoded', { cause: error });
}
