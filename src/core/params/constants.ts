/**
 * The values of the image parameters that code names directly: the choices
 * of the descriptors (`registry.ts`) and the neutral values of the parameters
 * that fold into each other. A module of its own so that the viewer-request
 * CloudFront Function can import these without the descriptors.
 */

export const FIT_MODES = ['cover', 'contain', 'fill', 'inside', 'outside'] as const;
export type FitMode = (typeof FIT_MODES)[number];
export const REQUESTED_FORMATS = ['auto', 'webp', 'avif', 'jpeg', 'png'] as const;
export type RequestedFormat = (typeof REQUESTED_FORMATS)[number];
/** A format an encoder writes: what `auto` resolves to. */
export type OutputFormat = Exclude<RequestedFormat, 'auto'>;
/** Where a crop keeps the image, or where `contain` places it in its padding. */
export const GRAVITIES = [
  'center',
  'top',
  'bottom',
  'left',
  'right',
  'top-left',
  'top-right',
  'bottom-left',
  'bottom-right',
  'attention',
  'entropy',
  'focal',
] as const;
export type Gravity = (typeof GRAVITIES)[number];
export const FLIPS = ['h', 'v', 'hv'] as const;
export type Flip = (typeof FLIPS)[number];
export const ROTATIONS = [0, 90, 180, 270] as const;
export type Rotation = (typeof ROTATIONS)[number];

/** Values of the parameters that fold into others: written or left off, the same derivative. */
export const NEUTRAL_FORMAT: RequestedFormat = 'auto';
export const NEUTRAL_DPR = 1;
/** A focal point's missing coordinate. */
export const NEUTRAL_FOCAL_COORDINATE = 0.5;
/** The same, by parameter (the constants above, one by one, are what the viewer function's bundle inlines). */
export const NEUTRAL = {
  format: NEUTRAL_FORMAT,
  dpr: NEUTRAL_DPR,
  rotate: 0,
  /** `rrggbbaa`: opaque white, what a page most likely is. */
  background: 'ffffffff',
  focalCoordinate: NEUTRAL_FOCAL_COORDINATE,
} as const;

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface FocalPoint {
  x: number;
  y: number;
}

/** What a URL may carry under `presetPolicy: only`. */
export const PRESET_ONLY_PARAMS = ['preset', 'format', 'dpr'] as const;
