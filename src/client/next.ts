/**
 * `edge-resizer/next`: a `loaderFile` for `next/image`. The app's loader file
 * is one line, `export { default } from 'edge-resizer/next'`; the CDN is
 * `NEXT_PUBLIC_EDGE_RESIZER_URL`, and `NEXT_PUBLIC_EDGE_RESIZER_WIDTHS`
 * (comma-separated) the stage's `allowedWidths`, when it has them.
 */
import { imageUrl, snapWidth } from './index.js';

/** What `next/image` hands a loader. */
export interface ImageLoaderProps {
  src: string;
  width: number;
  quality?: number;
}

export interface LoaderSettings {
  /** The CDN's URL (`https://cdn.example.com`). */
  base: string;
  allowedWidths?: readonly number[];
}

/** A loader for `base`: Next's width snapped to an allowed one, its quality as ours, `format=auto`. */
export function createLoader(settings: LoaderSettings): (props: ImageLoaderProps) => string {
  return ({ src, width, quality }) => {
    // An absolute `src` is another host's image: this CDN only serves its own keys.
    if (/^[a-z][a-z0-9+.-]*:/i.test(src)) return src;
    return imageUrl(settings.base, src, {
      width: snapWidth(width, settings.allowedWidths),
      quality: quality === undefined ? undefined : Math.min(100, Math.max(1, Math.round(quality))),
      format: 'auto',
    });
  };
}

function parseWidths(text: string | undefined): number[] | undefined {
  if (!text) return undefined;
  const widths = text
    .split(',')
    .map((part) => Number(part.trim()))
    .filter((width) => Number.isInteger(width) && width > 0);
  return widths.length > 0 ? widths : undefined;
}

// Next.js inlines `process.env.NEXT_PUBLIC_*` where the code spells it out,
// in node_modules too; elsewhere (a browser running this file unbundled)
// `process` may not exist, which the `try` catches.
declare const process: { env: Record<string, string | undefined> };

function configuredUrl(): string | undefined {
  try {
    return process.env.NEXT_PUBLIC_EDGE_RESIZER_URL;
  } catch {
    return undefined;
  }
}

function configuredWidths(): string | undefined {
  try {
    return process.env.NEXT_PUBLIC_EDGE_RESIZER_WIDTHS;
  } catch {
    return undefined;
  }
}

/** The loader `next/image` calls, configured from the environment. */
export default function edgeResizerLoader(props: ImageLoaderProps): string {
  const base = configuredUrl();
  if (!base) throw new Error('edge-resizer/next: set NEXT_PUBLIC_EDGE_RESIZER_URL to the CDN URL');
  return createLoader({ base, allowedWidths: parseWidths(configuredWidths()) })(props);
}
