/**
 * `edge-resizer upload <file|dir>…`: stores each file as `<prefix><name>`
 * through the API of a local or deployed CDN: files up to what one request
 * carries (`MAX_DIRECT_UPLOAD_BYTES`, a function URL's 6 MB event with the
 * body base64) with one `PUT /api/images/<key>`, larger ones through a staged
 * multipart upload (see staged-upload.ts). `--concurrency` bounds
 * the files in flight; each staged file has its own parts in parallel. A
 * byte-level progress bar on a TTY, one JSON line per file otherwise; every
 * failure is reported with its reason and the exit code is 1 if any file
 * failed, the others still being uploaded.
 */

import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { SingleBar } from 'cli-progress';
import { ApiClient, ApiError, STAGED_UPLOAD_THRESHOLD_BYTES } from '../client-api/api-client.js';
import { CliError, defaultEndpoint, describeApiError, forEachLimited, resolveToken } from './common.js';
import { stagedUpload } from './staged-upload.js';

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
  /** Bytes on disk (0 when missing). */
  size: number;
}

export type UploadLine =
  | { file: string; ok: true; key: string; version: number; bytes: number; url: string }
  | { file: string; ok: false; key: string; error: string };

const MB = 1024 * 1024;

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
  const totalBytes = jobs.reduce((sum, job) => sum + job.size, 0);
  const bar = tty
    ? new SingleBar({
        format: ' {bar} {percentage}% | {mb}/{totalMb} MB | {files}/{count} files | {failed} failed | {file}',
        hideCursor: true,
      })
    : undefined;
  const failures: Extract<UploadLine, { ok: false }>[] = [];
  let doneBytes = 0;
  let doneFiles = 0;
  const payload = (file?: string) => ({
    mb: (doneBytes / MB).toFixed(1),
    totalMb: (totalBytes / MB).toFixed(1),
    files: doneFiles,
    count: jobs.length,
    failed: failures.length,
    ...(file === undefined ? {} : { file }),
  });
  bar?.start(Math.max(1, totalBytes), 0, { ...payload(''), file: '' });
  const progress = (delta: number, file: string) => {
    doneBytes += delta;
    bar?.update(doneBytes, payload(file));
  };

  await forEachLimited(jobs, concurrency, async (job) => {
    let counted = 0;
    const line = await uploadOne(endpoint, token, job, (delta) => {
      counted += delta;
      progress(delta, basename(job.file));
    });
    if (!line.ok) failures.push(line);
    doneFiles += 1;
    // A file's bytes count as done once it is settled, whether it went through or not.
    progress(job.size - counted, basename(job.file));
    if (!bar) process.stdout.write(`${JSON.stringify(line)}\n`);
  });
  bar?.stop();

  if (tty) {
    for (const failure of failures) process.stderr.write(`failed: ${failure.file}: ${failure.error}\n`);
    process.stderr.write(`${jobs.length - failures.length} uploaded, ${failures.length} failed\n`);
  }
  return failures.length === 0 ? 0 : 1;
}

async function uploadOne(
  endpoint: string,
  token: string,
  job: UploadJob,
  onBytes: (delta: number) => void,
): Promise<UploadLine> {
  if (job.missing) return { file: job.file, ok: false, key: job.key, error: job.missing };
  try {
    const item =
      job.size > STAGED_UPLOAD_THRESHOLD_BYTES
        ? await stagedUpload({ endpoint, token, file: job.file, size: job.size, key: job.key, onBytes })
        : await new ApiClient(endpoint, token).putImage(job.key, await readFile(job.file));
    return { file: job.file, ok: true, key: item.key, version: item.version, bytes: item.bytes, url: item.url };
  } catch (error) {
    if (error instanceof ApiError) return { file: job.file, ok: false, key: job.key, error: describeApiError(error) };
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
      jobs.push({ file: path, key: `${prefix}${basename(path)}`, missing: 'No such file or directory', size: 0 });
    } else if (info.isDirectory()) {
      for (const file of await walk(path)) {
        const size = (await stat(file)).size;
        jobs.push({ file, key: `${prefix}${relative(path, file).split(sep).join('/')}`, size });
      }
    } else {
      jobs.push({ file: path, key: `${prefix}${basename(path)}`, size: info.size });
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
