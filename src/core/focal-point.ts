/**
 * The focal point stored with an image (CONTRACT.md §6, §7): set at upload
 * with `X-Focal-Point: x,y` or with `PATCH /api/images/<key>`, kept in the
 * original object's metadata as `focal-point: x,y` (what the edge reads with
 * the original) and in the metadata item. x and y are fractions 0..1 of the
 * displayed original's width and height, up to 3 decimals, like `fx`/`fy`.
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

/** The JSON form of a PATCH: `{"x": 0.3, "y": 0.6}`, or `null` to clear. */
export function focalPointFromJson(value: unknown, name = 'focalPoint'): FocalPoint | null {
  if (value === null) return null;
  const fraction = (v: unknown) =>
    typeof v === 'number' && v >= 0 && v <= 1 && Math.abs(Math.round(v * 1000) - v * 1000) < 1e-9;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidParam(name, `{"x", "y"} or null`, json(value));
  const entries = Object.entries(value);
  const x = Object.hasOwn(value, 'x') ? (value as { x: unknown }).x : undefined;
  const y = Object.hasOwn(value, 'y') ? (value as { y: unknown }).y : undefined;
  if (entries.length !== 2 || !fraction(x) || !fraction(y)) {
    throw invalidParam(name, `{"x", "y"} each a number between 0 and 1, up to 3 decimals`, json(value));
  }
  return { x: x as number, y: y as number };
}

/** The metadata value: `0.3,0.6`. */
export function formatFocalPoint(point: FocalPoint): string {
  return `${point.x},${point.y}`;
}

function json(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}
