/** libvips sized for the process it runs in. */
import { availableParallelism } from 'node:os';
import sharp from 'sharp';

/** Lambda gives one vCPU per 1,769 MB of memory ("Lambda memory and computing power"). */
const LAMBDA_MB_PER_VCPU = 1769;
/** Cores two encodes of one miss can run on side by side: set for a Lambda, else the machine's. */
let wholeCores: number | undefined;

/**
 * Sizes libvips for a Lambda: its operation cache pays off for repeated work
 * on one image, not for one transform per request, so it is kept small and
 * file handles are not cached; threads follow the vCPUs Lambda gives for the
 * memory size (about one per 1769 MB).
 */
export function configureSharpForLambda(memoryMb: number, cpus: number): void {
  sharp.cache({ memory: Math.max(16, Math.floor(memoryMb / 32)), files: 0, items: 50 });
  sharp.concurrency(Math.max(1, cpus));
  // The sandbox may report two processors where the memory size pays for one (1,536 MB: ~0.87 vCPU).
  wholeCores = Math.max(1, Math.min(cpus, Math.floor(memoryMb / LAMBDA_MB_PER_VCPU)));
}

/** Whole cores this process may use at once. */
export function usableCores(): number {
  return wholeCores ?? availableParallelism();
}
