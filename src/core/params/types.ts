/**
 * The types of parameter values, derived from the descriptors of `registry.ts`
 * so that a new descriptor is a new field of `ImageParams` and, for a pipeline
 * step, of `Variant`.
 */
import type {
  Descriptor,
  FitMode,
  FocalPoint,
  Gravity,
  ImageParamName,
  Rect,
  RequestedFormat,
  VariantSlot,
} from './registry.js';

/** A descriptor's parsed value. */
export type ParamValue<D> = D extends { kind: 'rect' }
  ? Rect
  : D extends { kind: 'choice'; choices: readonly (infer C)[] }
    ? C
    : D extends { kind: 'colour' | 'preset' }
      ? string
      : number;

/** Parameters as the URL (and its preset) wrote them, validated, before canonicalization. */
export type ImageParams = { [D in Descriptor as D['name']]?: ParamValue<D> };

type StepDescriptor = Extract<Descriptor, { variant: VariantSlot }>;

/** The pipeline steps' values, each absent when neutral (so a URL without it names the key it always named). */
export type StepValues = {
  [D in StepDescriptor as D['variant']['field']]?: D extends { neutral: infer N }
    ? Exclude<ParamValue<D>, N>
    : ParamValue<D>;
};

/**
 * What the resize and the encoder take: dpr folded into pixels, fit and quality
 * defaulted, gravity or the focal point only where a crop or padding happens.
 */
export interface Geometry<F> {
  /** Output width in pixels, or undefined for "from the original". */
  width?: number;
  height?: number;
  quality: number;
  fit: FitMode;
  format: F;
  /** Only where a crop or padding happens; absent means `focal` (the stored point, else the centre). */
  gravity?: Gravity;
  /** An explicit focal point from `fx`/`fy` (implies gravity `focal`); absent: the stored point, else the centre. */
  focal?: FocalPoint;
}

/**
 * The canonical form, generic in what the format is (requested at the edge,
 * negotiated by the origin): two URLs name the same derivative iff these are equal.
 */
export type CanonicalForm<F> = Geometry<F> & StepValues;
export type CanonicalParams = CanonicalForm<RequestedFormat>;

/** Compile-time check that every step's field is a name of the `Variant`. */
export type StepField = keyof StepValues;
export type { ImageParamName };
