/** The `bg` colour as sharp takes it. */

export interface Rgba {
  r: number;
  g: number;
  b: number;
  alpha: number;
}

/** `rrggbbaa` (absent: opaque white) → sharp's colour. */
export function parseBackground(hex: string | undefined): Rgba {
  const value = hex ?? 'ffffffff';
  const byte = (i: number) => Number.parseInt(value.slice(i, i + 2), 16);
  return { r: byte(0), g: byte(2), b: byte(4), alpha: value.length >= 8 ? byte(6) / 255 : 1 };
}

/** bg as JPEG can show it: composited over white, as a page most likely is. */
export function opaque(colour: Rgba): { r: number; g: number; b: number } {
  const over = (c: number) => Math.round(c * colour.alpha + 255 * (1 - colour.alpha));
  return { r: over(colour.r), g: over(colour.g), b: over(colour.b) };
}
