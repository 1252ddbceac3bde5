/**
 * One write at a time per image key in this process: uploads, replaces,
 * focal-point changes and deletes of a key queue behind each other. The
 * conditional version write in the metadata table is what keeps versions
 * unique across processes (Lambda containers); this queue is what keeps
 * concurrent writers in one process (the local CDN, a warm container) from
 * racing on `<key>` at all, which s3rver, writing files, does not survive
 * (concurrent CopyObject to one key fails with InternalError).
 */
import { busyError } from '../core/errors.js';

export interface KeyLock {
  /**
   * Runs `work` once every earlier write of `key` has settled. A writer that
   * waited `maxWaitMs` without its turn gets 503 `busy` with `Retry-After`.
   */
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
}

export function createKeyLock(maxWaitMs: number): KeyLock {
  /** The tail of each key's queue; removed when the last writer is done. */
  const tails = new Map<string, Promise<void>>();

  return {
    async run(key, work) {
      const previous = tails.get(key) ?? Promise.resolve();
      let done: () => void = () => {};
      const mine = new Promise<void>((resolve) => {
        done = resolve;
      });
      const tail = previous.then(() => mine);
      tails.set(key, tail);
      try {
        let timer: NodeJS.Timeout | undefined;
        const turn = await Promise.race([
          previous.then(() => true),
          new Promise<false>((resolve) => {
            timer = setTimeout(() => resolve(false), maxWaitMs);
          }),
        ]);
        clearTimeout(timer);
        if (!turn) throw busyError('Other writes of this image are in progress; try again');
        return await work();
      } finally {
        done();
        if (tails.get(key) === tail) tails.delete(key);
      }
    },
  };
}
