/**
 * What the deploy tests need to run a packaged Lambda zip on this machine: the
 * zip unpacked to a directory, and the environment set around a call. The
 * loopback SSM for the master key (s3rver has none) is bench/lib/ssm-server.ts,
 * which checks signatures; the handlers reach it and s3rver through
 * `AWS_ENDPOINT_URL_SSM` / `AWS_ENDPOINT_URL_S3`, so the baked wiring runs
 * exactly as packaged.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ZipEntry } from './zip.js';

export async function unpack(entries: ZipEntry[], directory: string): Promise<void> {
  for (const entry of entries) {
    if (entry.name.endsWith('/')) continue;
    const path = join(directory, entry.name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, entry.read());
  }
}

/** Sets environment variables for the duration of `work`, then restores them. */
export async function withEnv<T>(values: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const saved = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(values)) {
    saved.set(name, process.env[name]);
    process.env[name] = value;
  }
  try {
    return await work();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
