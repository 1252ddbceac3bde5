/**
 * A small pool of plaintext buffers for the miss path, reused from one miss to
 * the next. A fresh buffer of a few MB costs more than decrypting into it: the
 * kernel maps and zeroes every page on first touch, and each one counts as new
 * external memory for V8, which answers with full garbage collections. A
 * buffer that already holds its pages has neither cost.
 *
 * Bounded on both sides: at most `maxIdle` buffers wait between misses (one
 * per admission slot: more misses than slots never run at once), and none over
 * `maxBytes` (larger originals get a buffer of their own, freed as before). A
 * buffer comes back only through `release`, which its user calls once nothing
 * reads it any more: for the miss path, once the transform has settled, since
 * sharp reads its input buffer until its pipeline ends.
 */

/** Largest plaintext kept for reuse: covers the 13 MB PNG and 14.7 MP JPEG of the bench, well under a miss's memory. */
export const POOLED_PLAINTEXT_MAX_BYTES = 32 * 1024 * 1024;
/** Capacities are rounded up to this, so originals of about the same size share buffers. */
const GRANULE_BYTES = 1024 * 1024;

export interface PlaintextPool {
  /** A buffer of exactly `bytes` bytes, contents undefined. Give it back with `release` once unused. */
  acquire(bytes: number): Buffer;
  /** Returns a buffer from `acquire`; anything else, or a second release, is ignored. */
  release(buffer: Buffer): void;
  /** Buffers waiting for reuse and their capacities, for tests. */
  idle(): number[];
}

export function createPlaintextPool(options: { maxIdle: number; maxBytes?: number }): PlaintextPool {
  const maxIdle = Math.max(0, Math.floor(options.maxIdle));
  const maxBytes = options.maxBytes ?? POOLED_PLAINTEXT_MAX_BYTES;
  /** Whole-capacity buffers not in use, smallest first. */
  const idle: Buffer[] = [];
  /** Each handed-out view → the whole buffer behind it. */
  const lent = new WeakMap<Buffer, Buffer>();

  return {
    acquire(bytes) {
      if (bytes > maxBytes || maxIdle === 0) return Buffer.allocUnsafeSlow(bytes);
      const index = idle.findIndex((buffer) => buffer.length >= bytes);
      const whole =
        index >= 0
          ? (idle.splice(index, 1)[0] as Buffer)
          : Buffer.allocUnsafeSlow(Math.min(maxBytes, Math.ceil(Math.max(1, bytes) / GRANULE_BYTES) * GRANULE_BYTES));
      const view = whole.subarray(0, bytes);
      lent.set(view, whole);
      return view;
    },
    release(buffer) {
      const whole = lent.get(buffer);
      if (!whole) return;
      lent.delete(buffer);
      if (idle.length >= maxIdle) {
        // Full: keep the larger buffers, which fit more originals.
        if ((idle[0] as Buffer).length >= whole.length) return;
        idle.shift();
      }
      const at = idle.findIndex((buffer) => buffer.length > whole.length);
      idle.splice(at < 0 ? idle.length : at, 0, whole);
    },
    idle: () => idle.map((buffer) => buffer.length),
  };
}
