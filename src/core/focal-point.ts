/**
 * The focal point stored with an image: set at upload
 * with `X-Focal-Point: x,y` or with `PATCH /api/images/<key>`, kept in the
 * original object's metadata as `focal-point: x,y` (what the edge reads with
 * the original) and in the metadata item. x and y are fractions 0..1 of the
 * displayed original's width and height, up to 3 decimals, like `fx`/`fy`.
 *
 * One representation everywhere: every way in (header, JSON, the stored
 * metadata) ends as numbers rounded to 3 decimals, written back as plain
 * decimals (`0`, `0.3`, `0.125`, never `1e-13` or `0.30000000000000004`), so
 * what the API reports is what the edge crops with.
 */
import { invalidParam } from './errors.js';
import type { FocalPoint } from './params.js';

/** The original object's metadata name (S3 user metadata: `x-amz-meta-focal-point`). */
export const FOCAL_POINT_META = 'focal-point';

const EXPECTED = 'x,y with x and y between 0 and 1, up to 3 decimals';
const FRACTION = /^(0(\.\d{1,3})?|1(\.0{1,3})?)$/;

/** `X-Focal-Point` (or the stored metadata): `0.3,0.6`. A bad value is a 400 `invalid_param` naming `name`. */
export function parseFocalPoint(text: string, name = 'X-Focal-Point'): FocalPoint {
  const match = /^\s*([^,\s]+)\s*,\s*([^,\s]+)\s*$/.exec(text);
  const [x, y] = [match?.[1] ?? '', match?.[2] ?? ''];
  if (!FRACTION.test(x) || !FRACTION.test(y)) throw invalidParam(name, EXPECTED, text);
  return { x: Number(x), y: Number(y) };
}

/** Decimals of a coordinate, as in the URL's `fx`/`fy`. */
const SCALE = 1000;
/** How far a JSON number may be from a 3-decimal value and still be it: binary floating point's noise (0.1 + 0.2). */
const NOISE = 1e-9;

/** A coordinate on the URL's grid of 3 decimals. */
const onGrid = (v: number) => Math.round(v * SCALE) / SCALE;

/**
 * The JSON form of a PATCH: `{"x": 0.3, "y": 0.6}`, or `null` to clear. A
 * number within floating-point noise of 3 decimals (`0.30000000000000004`,
 * `1e-13`) is taken as that value; more decimals than that are a 400.
 */
export function focalPointFromJson(value: unknown, name = 'focalPoint'): FocalPoint | null {
  if (value === null) return null;
  const fraction = (v: unknown) =>
    typeof v === 'number' && v >= 0 && v <= 1 && Math.abs(Math.round(v * SCALE) - v * SCALE) < NOISE * SCALE;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidParam(name, `{"x", "y"} or null`, json(value));
  const entries = Object.entries(value);
  const x = Object.hasOwn(value, 'x') ? (value as { x: unknown }).x : undefined;
  const y = Object.hasOwn(value, 'y') ? (value as { y: unknown }).y : undefined;
  if (entries.length !== 2 || !fraction(x) || !fraction(y)) {
    throw invalidParam(name, `{"x", "y"} each a number between 0 and 1, up to 3 decimals`, json(value));
  }
  return { x: onGrid(x as number), y: onGrid(y as number) };
}

/** The metadata value: `0.3,0.6`, each coordinate on the 3-decimal grid (k/1000 never prints with an exponent). */
export function formatFocalPoint(point: FocalPoint): string {
  return `${onGrid(point.x)},${onGrid(point.y)}`;
}

/**
 * The point stored in an original's metadata, as the edge reads it: what
 * `formatFocalPoint` wrote, also any number spelling in 0..1 an earlier
 * release stored (`1e-13`, 17 decimals), put on the same grid; undefined when
 * absent or malformed (the crop falls back to the centre).
 */
export function readStoredFocalPoint(value: string | undefined): FocalPoint | undefined {
  const match = /^\s*([^,\s]+)\s*,\s*([^,\s]+)\s*$/.exec(value ?? '');
  if (!match) return undefined;
  const number = (text: string) => (/^[0-9.eE+-]+$/.test(text) ? Number(text) : Number.NaN);
  const [x, y] = [number(match[1] as string), number(match[2] as string)];
  if (!(x >= 0 && x <= 1 && y >= 0 && y <= 1)) return undefined;
  return { x: onGrid(x), y: onGrid(y) };
}

function json(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}
