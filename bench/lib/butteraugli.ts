/**
 * butteraugli (libjxl's `butteraugli_main`, Debian `libjxl-devtools`): a
 * perceptual distance, lower is better; the 3-norm is the figure the quality
 * calibration and bench row 6 use. Inputs are PNG files (both sRGB).
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BINARY = process.env.BUTTERAUGLI ?? 'butteraugli_main';

export function butteraugliAvailable(): boolean {
  const probe = spawnSync(BINARY, [], { encoding: 'utf8' });
  return !probe.error && /butteraugli/i.test(`${probe.stdout}${probe.stderr}`);
}

/** `{ max, pnorm3 }` of `distorted` against `reference`. */
export async function butteraugli(reference: string, distorted: string): Promise<{ max: number; pnorm3: number }> {
  const { stdout } = await run(BINARY, [reference, distorted, '--pnorm', '3'], { maxBuffer: 1 << 20 });
  return parseButteraugli(stdout);
}

/** `butteraugli_main`'s stdout: the max-norm distance on the first line, then `3-norm: x`. */
export function parseButteraugli(stdout: string): { max: number; pnorm3: number } {
  const [first = '', ...rest] = stdout.trim().split('\n');
  const pnorm = rest.map((line) => /3-norm:\s*([\d.]+)/.exec(line)?.[1]).find((value) => value !== undefined);
  const max = Number.parseFloat(first);
  if (!Number.isFinite(max) || pnorm === undefined) throw new Error(`unexpected butteraugli output: ${stdout}`);
  return { max, pnorm3: Number.parseFloat(pnorm) };
}
