/**
 * `edge-resizer upload <file|dir>…`: PUTs each file to `/api/images/<prefix><name>`
 * of a local or deployed CDN. A progress bar on a TTY, one JSON line per file
 * otherwise; every failure is reported with its reason and the exit code is 1
 * if any file failed, the others still being uploaded.
 */

import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { SingleBar } from 'cli-progress';
import { CliError, defaultEndpoint, describeFailure, forEachLimited, resolveToken } from './common.js';

export interface UploadOptions {
  prefix: string;
  endpoint?: string;
  token?: string;
  concurrency: string;
  dataDir: string;
}

interface UploadJob {
  file: string;
  key: string;
  /** Set when the path could not be read: reported as that file's failure. */
  missing?: string;
}

export type UploadLine =
  | { file: string; ok: true; key: string; version: number; bytes: number; url: string }
  | { file: string; ok: false; key: string; error: string };

export async function upload(paths: string[], options: UploadOptions): Promise<number> {
  const concurrency = Number(options.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new CliError(`--concurrency takes a whole number from 1 to 64, not '${options.concurrency}'`, 2);
  }
  const endpoint = (options.endpoint ?? defaultEndpoint()).replace(/\/+$/, '');
  const token = await resolveToken(options.token, options.dataDir);
  const jobs = await collectJobs(paths, options.prefix);
  if (jobs.length === 0) throw new CliError('No files to upload');

  const tty = process.stderr.isTTY === true;
  const bar = tty
    ? new SingleBar({ format: ' {bar} {value}/{total} files | {failed} failed | {file}', hideCursor: true })
    : undefined;
  bar?.start(jobs.length, 0, { failed: 0, file: '' });
  const failures: Extract<UploadLine, { ok: false }>[] = [];

  await forEachLimited(jobs, concurrency, async (job) => {
    const line = await uploadOne(endpoint, token, job);
    if (!line.ok) failures.push(line);
    if (bar) bar.increment(1, { failed: failures.length, file: basename(job.file) });
    else process.stdout.write(`${JSON.stringify(line)}\n`);
  });
  bar?.stop();

  if (tty) {
    for (const failure of failures) process.stderr.write(`failed: ${failure.file}: ${failure.error}\n`);
    process.stderr.write(`${jobs.length - failures.length} uploaded, ${failures.length} failed\n`);
  }
  return failures.length === 0 ? 0 : 1;
}

async function uploadOne(endpoint: string, token: string, job: UploadJob): Promise<UploadLine> {
  if (job.missing) return { file: job.file, ok: false, key: job.key, error: job.missing };
  try {
    const body = await readFile(job.file);
    const response = await fetch(`${endpoint}/api/images/${job.key.split('/').map(encodeURIComponent).join('/')}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body,
    });
    if (!response.ok) return { file: job.file, ok: false, key: job.key, error: await describeFailure(response) };
    const item = (await response.json()) as { key: string; version: number; bytes: number; url: string };
    return { file: job.file, ok: true, key: item.key, version: item.version, bytes: item.bytes, url: item.url };
  } catch (error) {
    const reason =
      error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    return { file: job.file, ok: false, key: job.key, error: reason };
  }
}

/** Files as given; directories walked recursively, keys keeping their relative paths. */
async function collectJobs(paths: string[], prefix: string): Promise<UploadJob[]> {
  const jobs: UploadJob[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info) {
      jobs.push({ file: path, key: `${prefix}${basename(path)}`, missing: 'No such file or directory' });
    } else if (info.isDirectory()) {
      for (const file of await walk(path))
        jobs.push({ file, key: `${prefix}${relative(path, file).split(sep).join('/')}` });
    } else {
      jobs.push({ file: path, key: `${prefix}${basename(path)}` });
    }
  }
  return jobs;
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}
