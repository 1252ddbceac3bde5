/**
 * What the part-door tests share: raw HTTP that keeps a path and query exactly
 * as written, the staged-upload calls, and a snapshot of every file under a
 * directory but s3rver's staging bucket (where parts may land).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join, relative, sep } from 'node:path';

export const STAGING_BUCKET = 'edge-resizer-staging';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * Sends `method base+path` as written; a `bodyBytes` body is streamed in 1 MB
 * slices and stops when the server answers (a door that refuses early reads
 * none of it). A connection the server closes mid-body answers status 0.
 */
export function raw(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: Uint8Array | string; bodyBytes?: number } = {},
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve) => {
    let answered = false;
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    if (options.bodyBytes !== undefined) headers['content-length'] = String(options.bodyBytes);
    const request = httpRequest(
      { hostname: url.hostname, port: url.port, method, path, headers, agent: false },
      (response) => {
        answered = true;
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: '' }));
        response.on('end', () => {
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
          // A body the server would not read is not sent on.
          if (options.bodyBytes !== undefined) request.destroy();
        });
      },
    );
    request.on('error', () => {
      if (!answered) resolve({ status: 0, headers: {}, body: '' });
    });
    if (options.bodyBytes !== undefined) {
      const slice = Buffer.alloc(1024 * 1024, 0x41);
      let sent = 0;
      const pump = () => {
        while (!answered && !request.destroyed && sent < (options.bodyBytes as number)) {
          const piece = slice.subarray(0, Math.min(slice.length, (options.bodyBytes as number) - sent));
          sent += piece.length;
          if (!request.write(piece)) return void request.once('drain', pump);
        }
        if (!request.destroyed) request.end();
      };
      pump();
    } else {
      request.end(options.body);
    }
  });
}

export async function api(base: string, token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) };
}

export interface CreatedUpload {
  uploadId: string;
  key: string;
  partSize: number;
  parts: { partNumber: number; url: string }[];
}

export async function createUpload(base: string, token: string, key: string, bytes: number): Promise<CreatedUpload> {
  const response = await api(base, token, 'POST', '/api/uploads', { key, bytes });
  if (response.status !== 201) throw new Error(`POST /api/uploads answered ${response.status}: ${response.text}`);
  return response.json() as CreatedUpload;
}

/** The path and query of a part URL, as the door receives it. */
export function pathOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}

/** `url` with one query value replaced (or removed with undefined), the rest kept byte for byte. */
export function withQuery(url: string, name: string, value: string | undefined): string {
  const [path, query = ''] = pathOf(url).split('?', 2);
  const pairs = query.split('&').filter((pair) => !pair.startsWith(`${name}=`));
  if (value !== undefined) pairs.push(`${name}=${value}`);
  return `${path}?${pairs.join('&')}`;
}

/** sha256 of every file under `root` but s3rver's staging bucket and dynalite's files (LevelDB compacts on its own). */
export async function snapshotOutsideStaging(root: string, dataDir: string): Promise<Map<string, string>> {
  const skip = [join(dataDir, 's3', STAGING_BUCKET), join(dataDir, 'dynamodb')];
  const files = new Map<string, string>();
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (skip.some((dir) => path === dir || path.startsWith(`${dir}${sep}`))) continue;
    const bytes = await readFile(path).catch(() => undefined);
    if (bytes) files.set(relative(root, path), createHash('sha256').update(bytes).digest('hex'));
  }
  return files;
}

/** Files under s3rver's staging bucket, with their sizes. */
export async function stagingSizes(dataDir: string): Promise<{ path: string; size: number }[]> {
  const bucket = join(dataDir, 's3', STAGING_BUCKET);
  const entries = await readdir(bucket, { recursive: true, withFileTypes: true }).catch(() => []);
  const out: { path: string; size: number }[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const size = (await readFile(path).catch(() => Buffer.alloc(0))).length;
    out.push({ path: relative(bucket, path), size });
  }
  return out;
}

export function amzNow(): string {
  return new Date().toISOString().replace(/[-:]|\.\d+/g, '');
}
