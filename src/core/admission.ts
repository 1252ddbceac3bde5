/**
 * Admission control for misses in a long-lived process (the local CDN, any
 * server that renders many misses at once): a fixed number of slots, a
 * bounded FIFO queue behind them, and an immediate 503 `busy` with
 * `Retry-After` when both are full. Without it, N concurrent heavy misses
 * share the cores N ways, every one of them runs past its budget, and the
 * process holds N decoded images at once. Lambda@Edge runs one request per
 * container and needs none.
 */
import { HttpError } from './errors.js';

export interface AdmissionOptions {
  /** Misses that run at once. */
  slots: number;
  /** Misses that may wait for a slot; one more is refused at once. */
  queue: number;
  /** `Retry-After` of the refusal, in seconds. @default 2 */
  retryAfterSeconds?: number;
}

export interface AdmissionGate {
  /**
   * Takes a slot, waiting in the queue for one if needed. Resolves with the
   * slot's release (idempotent). Rejects at once with 503 `busy` when the queue
   * is full, and with the signal's reason when the signal fires while waiting.
   */
  acquire(signal?: AbortSignal): Promise<() => void>;
  /** Slots in use and misses waiting, for logs and tests. */
  load(): { active: number; queued: number };
  readonly limits: Readonly<Required<AdmissionOptions>>;
}

/** Bytes one heavy miss may hold at its peak: ciphertext, plaintext, decoded pixels, encoder buffers. */
export const BYTES_PER_MISS = 512 * 1024 * 1024;
/** Waiting misses per slot: enough to absorb a burst, few enough that a waiter still fits its time budget. */
export const QUEUE_PER_SLOT = 4;

/**
 * Slots sized to the machine: one per core (libvips already spreads one
 * transform over its threads, so more misses than cores only share the same
 * cores slower), and no more than half the memory allows at `BYTES_PER_MISS` each.
 */
export function defaultAdmissionOptions(machine: { cpus: number; totalMemoryBytes: number }): AdmissionOptions {
  const byMemory = Math.floor(machine.totalMemoryBytes / 2 / BYTES_PER_MISS);
  const slots = Math.max(1, Math.min(Math.max(1, Math.floor(machine.cpus)), byMemory));
  return { slots, queue: slots * QUEUE_PER_SLOT };
}

export function createAdmissionGate(options: AdmissionOptions): AdmissionGate {
  const limits = {
    slots: Math.max(1, Math.floor(options.slots)),
    queue: Math.max(0, Math.floor(options.queue)),
    retryAfterSeconds: options.retryAfterSeconds ?? 2,
  };
  let active = 0;
  const waiting: Array<{ grant: () => void }> = [];

  function releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = waiting.shift();
      // The slot passes straight to the next waiter: `active` stays the same.
      if (next) next.grant();
      else active -= 1;
    };
  }

  return {
    limits,
    load: () => ({ active, queued: waiting.length }),
    acquire(signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (active < limits.slots) {
        active += 1;
        return Promise.resolve(releaser());
      }
      if (waiting.length >= limits.queue) {
        return Promise.reject(
          new HttpError('busy', 'The server is busy preparing other images; try again shortly', {
            headers: { 'Retry-After': String(limits.retryAfterSeconds) },
          }),
        );
      }
      return new Promise((resolve, reject) => {
        const onAbort = () => {
          const index = waiting.indexOf(entry);
          if (index !== -1) waiting.splice(index, 1);
          reject(signal?.reason);
        };
        const entry = {
          grant: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve(releaser());
          },
        };
        waiting.push(entry);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
