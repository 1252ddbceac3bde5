/**
 * How long this process's main thread has waited for a CPU while runnable
 * (Linux `/proc/<pid>/task/<pid>/schedstat`, second field, ns), in ms; NaN
 * where the kernel does not say. On a shared machine this is the part of a
 * latency that is the machine's, not the code's: a request that arrives while
 * the server waits on the run queue waits with it.
 */
import { readFileSync } from 'node:fs';

export function runQueueMs(): number {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(/\s+/);
    const waited = Number(fields[1]);
    return Number.isFinite(waited) ? waited / 1e6 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
