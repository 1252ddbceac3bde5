/** What the figures were measured on: results are only comparable on one machine. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import sharp from 'sharp';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
  sharp: string;
  libvips: string;
  ipx: string;
  ipxSharp: string;
  openssl: string;
  sharpConcurrency: number;
  uvThreadpoolSize: number;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAverage: number;
}

export function machineInfo(): MachineInfo {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    sharp: sharp.versions.sharp ?? 'unknown',
    libvips: sharp.versions.vips,
    ipx: packageVersion('../../node_modules/ipx/package.json'),
    ipxSharp: packageVersion('../../node_modules/ipx/node_modules/sharp/package.json'),
    openssl: opensslVersion() ?? 'absent',
    sharpConcurrency: sharp.concurrency(),
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    loadAverage: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
  };
}

/** `openssl version`, or undefined when the binary is absent. */
export function opensslVersion(): string | undefined {
  const result = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return undefined;
  return result.stdout.trim().split(/\s+/).slice(0, 2).join(' ');
}

function packageVersion(relative: string): string {
  try {
    // package.json through the file system: sharp's `exports` hides it from require.
    return (JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'absent';
  }
}
