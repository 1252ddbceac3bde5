/** A timed HTTP GET on loopback: time to first body byte and to the last, with node:http (no client-side buffering). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stagedUpload } from '../../src/cli/staged-upload.js';
import { MAX_DIRECT_UPLOAD_BYTES } from '../../src/core/limits.js';

export interface Timed {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** ms from the request to the first byte of the body (to the end for an empty body). */
  ttfb: number;
  /** ms from the request to the last byte. */
  total: number;
  bytes: number;
  body?: Buffer;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export function timedGet(
  url: string,
  options: { headers?: Record<string, string>; keepBody?: boolean } = {},
): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = request(url, { agent, headers: options.headers }, (res) => {
      let ttfb: number | undefined;
      let bytes = 0;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        ttfb ??= performance.now() - start;
        bytes += chunk.length;
        if (options.keepBody) chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        const total = performance.now() - start;
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          ttfb: ttfb ?? total,
          total,
          bytes,
          body: options.keepBody ? Buffer.concat(chunks) : undefined,
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * GET that follows one 302 (the answer for a derivative too large to
 * generate), timing both legs together; `missTiming` is the Server-Timing of the leg that transformed.
 */
export async function timedGetFollow(
  url: string,
  headers?: Record<string, string>,
): Promise<Timed & { redirected: boolean; missTiming: Record<string, number> }> {
  const first = await timedGet(url, { headers });
  const missTiming = serverTiming(first.headers['server-timing']);
  const location = first.headers.location;
  if (first.status !== 302 || typeof location !== 'string') return { ...first, redirected: false, missTiming };
  const second = await timedGet(new URL(location, url).href, { headers });
  return {
    ...second,
    ttfb: first.total + second.ttfb,
    total: first.total + second.total,
    redirected: true,
    missTiming,
  };
}

/** `fetch; dur=12.3, decrypt;dur=0.4` → `{ fetch: 12.3, decrypt: 0.4 }`. */
export function serverTiming(header: string | string[] | undefined): Record<string, number> {
  const timings: Record<string, number> = {};
  for (const part of String(header ?? '').split(',')) {
    const match = /^\s*([\w-]+)\s*;\s*dur=([\d.]+)/.exec(part);
    if (match?.[1] && match[2]) timings[match[1]] = Number(match[2]);
  }
  return timings;
}

/**
 * fetch, tried once more on a network error: after an idle spell (row 6 scores
 * images for seconds between requests) the server may have closed the kept-alive
 * socket that undici reuses, which fails the request with "fetch failed".
 * Every call here is idempotent (PUT of the same bytes, GET, DELETE).
 */
async function fetchAgain(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return fetch(url, init);
  }
}

export async function putImage(base: string, token: string, key: string, body: Buffer): Promise<void> {
  // Over what one API request carries, the CDN refuses a direct upload (as a function URL does): stage it.
  if (body.length > MAX_DIRECT_UPLOAD_BYTES) return putStaged(base, token, key, body);
  const response = await fetchAgain(`${base}/api/images/${key}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body: new Uint8Array(body),
  });
  if (response.status !== 200 && response.status !== 201) {
    throw new Error(`upload of ${key} failed: ${response.status} ${await response.text()}`);
  }
  await response.arrayBuffer();
}

/** Through a staged upload, as `edge-resizer upload` sends a large file. */
async function putStaged(base: string, token: string, key: string, body: Buffer): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-staged-'));
  try {
    const file = join(dir, 'original');
    await writeFile(file, body);
    await stagedUpload({ endpoint: base, token, file, size: body.length, key });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function getJson<T>(url: string, token: string): Promise<T> {
  const response = await fetchAgain(url, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET ${url} failed: ${response.status}`);
  return (await response.json()) as T;
}

/** Runs `work` over `items` with at most `limit` at once. */
export async function eachLimit<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
) {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index] as T, index);
    }
  });
  await Promise.all(lanes);
}

/** `DELETE /api/derivatives/<key>` (what `edge-resizer purge` calls): the stored derivatives and the edge cache's. */
export async function purgeDerivatives(base: string, token: string, key: string): Promise<void> {
  const response = await fetchAgain(`${base}/api/derivatives/${key}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${token}` },
  });
  if (!response.ok) throw new Error(`purge of ${key} failed: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}
