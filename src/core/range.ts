/**
 * `Range: bytes=…` of a streamed original, after RFC 9110 §14.
 * One range is served; a header we cannot honour as one range (another
 * unit, several ranges, bad syntax) is ignored and the whole body is sent,
 * which the RFC allows and every client handles.
 */

/** Inclusive byte offsets into the plaintext. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeResolution =
  /** Serve the whole body with 200. */
  | { type: 'whole' }
  /** Serve `range` with 206. */
  | { type: 'partial'; range: ByteRange }
  /** Answer 416 with `Content-Range: bytes *` + `/size`. */
  | { type: 'unsatisfiable' };

const SINGLE_RANGE = /^bytes=(\d*)-(\d*)$/i;

/**
 * Resolves a `Range` header against a body of `size` bytes: `a-b` (b clamped to
 * the end), `a-` (to the end), `-n` (the last n bytes). A range starting at or
 * past the end, or a suffix of 0 bytes, is unsatisfiable.
 */
export function resolveRange(header: string | undefined, size: number): RangeResolution {
  const match = header === undefined ? null : SINGLE_RANGE.exec(header.trim());
  if (!match) return { type: 'whole' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { type: 'whole' };

  if (first === '') {
    const suffix = toOffset(last);
    if (suffix === undefined) return { type: 'whole' };
    if (suffix === 0 || size === 0) return { type: 'unsatisfiable' };
    return { type: 'partial', range: { start: Math.max(0, size - suffix), end: size - 1 } };
  }

  const start = toOffset(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : toOffset(last);
  // `last < first` makes the header invalid, and an invalid Range is ignored.
  if (start === undefined || end === undefined || end < start) return { type: 'whole' };
  if (start >= size) return { type: 'unsatisfiable' };
  return { type: 'partial', range: { start, end: Math.min(end, size - 1) } };
}

/** `bytes a-b/size` for a 206, `bytes *` + `/size` for a 416. */
export function contentRange(range: ByteRange | undefined, size: number): string {
  return range ? `bytes ${range.start}-${range.end}/${size}` : `bytes */${size}`;
}

function toOffset(digits: string): number | undefined {
  if (!/^\d+$/.test(digits)) return undefined;
  // Past 2^53 the arithmetic is no longer exact, but the meaning is: an offset past any body's
  // end. Clamped, `0-<20 digits>` is the whole body as a 206, and `<20 digits>-` is a 416.
  return Math.min(Number(digits), Number.MAX_SAFE_INTEGER);
}
