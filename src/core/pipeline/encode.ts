/** The last step: the chosen encoder at the variant's quality, and the result as the miss path takes it. */
import type { Sharp } from 'sharp';
import { avifQuality, avifSettings, encoderQuality, webpSettings } from '../encoder-policy.js';
import type { OutputFormat } from '../params.js';
import type { Size } from './plan.js';

export const CONTENT_TYPES: Record<OutputFormat, string> = {
  webp: 'image/webp',
  avif: 'image/avif',
  jpeg: 'image/jpeg',
  png: 'image/png',
};

export interface TransformResult {
  data: Buffer;
  format: OutputFormat;
  contentType: string;
  width: number;
  height: number;
}

/** The encoder at `quality` on JPEG's scale, mapped to its own; AVIF effort by output size. */
export function encode(pipeline: Sharp, format: OutputFormat, quality: number, output: Size): Sharp {
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

/** Runs the pipeline to its bytes; the height is a frame's, for an animated output. */
export async function run(pipeline: Sharp, format: OutputFormat): Promise<TransformResult> {
  const { data, info: out } = await pipeline.toBuffer({ resolveWithObject: true });
  return {
    data,
    format,
    contentType: CONTENT_TYPES[format],
    width: out.width,
    height: out.pageHeight ?? out.height,
  };
}
