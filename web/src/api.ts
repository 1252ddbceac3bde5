/**
 * The playground's calls: the token, the NDJSON listing, uploads with
 * progress, and the JSON errors of CONTRACT.md §4 turned into readable text.
 */
import { MAX_DIRECT_UPLOAD_BYTES } from '../../src/core/limits.js';
import { readNdjson } from './ndjson.js';
import { keyPath, type StageSettings } from './variant.js';

export interface ImageItem {
  key: string;
  version?: number;
  contentType: string;
  width: number;
  height: number;
  bytes: number;
  sha256?: string;
  created?: string;
  /** Base64 ThumbHash, computed at upload. */
  thumbhash?: string;
  meta?: Record<string, string>;
  /** Fractions of the displayed original (CONTRACT.md §7); null when none is stored. */
  focalPoint?: { x: number; y: number } | null;
}

export interface UploadResult extends ImageItem {
  url: string;
}

/** An error answered by the API or the CDN, or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }

  /** "The API token is not valid (403 forbidden)". */
  get readable(): string {
    if (this.status === 0) return this.message;
    return `${this.message} (${this.status} ${this.code})`;
  }
}

/** Builds an `ApiError` from a response body that should be `{status, code, message}`. */
export function errorFromBody(status: number, statusText: string, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { status?: unknown; code?: unknown; message?: unknown };
    if (typeof body.message === 'string' && body.message) {
      return new ApiError(
        typeof body.status === 'number' ? body.status : status,
        typeof body.code === 'string' ? body.code : 'error',
        body.message,
      );
    }
  } catch {
    // Not JSON: a proxy's HTML page, for instance. Fall through to the status line.
  }
  return new ApiError(
    status,
    statusText.toLowerCase().replace(/\s+/g, '_') || 'error',
    `The server answered ${status} ${statusText}`.trim(),
  );
}

export async function errorFromResponse(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  return errorFromBody(response.status, response.statusText, text);
}

const TOKEN_STORAGE_KEY = 'edge-resizer.token';

export type TokenSource = 'local' | 'session';

/**
 * The token to use: one typed into this tab first (session storage, never
 * local storage), else the one a loopback local CDN hands out at
 * `/_local/token` (404 for anyone else, and on the deployed CDN).
 */
export async function resolveToken(): Promise<{ token: string; source: TokenSource } | undefined> {
  const stored = sessionStorage.getItem(TOKEN_STORAGE_KEY);
  if (stored) return { token: stored, source: 'session' };
  try {
    const response = await fetch('/_local/token', { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (response.ok) {
      const body = (await response.json()) as { token?: unknown };
      if (typeof body.token === 'string' && body.token) return { token: body.token, source: 'local' };
    }
  } catch {
    // Deployed, or the local server is gone: ask for the token.
  }
  return undefined;
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_STORAGE_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_STORAGE_KEY);
}

const isErrorLine = (value: unknown): value is { status: number; code: string; message: string } =>
  typeof value === 'object' &&
  value !== null &&
  !('key' in value) &&
  typeof (value as { code?: unknown }).code === 'string' &&
  typeof (value as { message?: unknown }).message === 'string';

/** Streams `GET /api/images`, yielding each item as soon as its line arrives. */
export async function* listImages(token: string, signal?: AbortSignal): AsyncGenerator<ImageItem> {
  let response: Response;
  try {
    response = await fetch('/api/images', {
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/x-ndjson' },
      cache: 'no-store',
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, 'network_error', 'Could not reach the server');
  }
  if (!response.ok) throw await errorFromResponse(response);
  if (!response.body) return;
  for await (const line of readNdjson(response.body)) {
    // A failure after the first page can only be reported in the stream itself.
    if (isErrorLine(line)) throw new ApiError(line.status ?? 500, line.code, line.message);
    yield line as ImageItem;
  }
}

/**
 * `POST /api/images` with the file's bytes as the body, reporting upload
 * progress (fetch cannot report request progress, XMLHttpRequest can). The
 * file name travels as `X-Meta-Filename`, percent-encoded to stay ASCII.
 */
export function uploadImage(file: File, token: string, onProgress: (fraction: number) => void): Promise<UploadResult> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/images');
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    // Header values are ASCII and the API caps them at 1024 chars: 100 chars encode to at most 900.
    xhr.setRequestHeader('X-Meta-Filename', encodeURIComponent(file.name.slice(0, 100)));
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        try {
          resolve(JSON.parse(xhr.responseText) as UploadResult);
        } catch {
          reject(new ApiError(xhr.status, 'bad_response', 'The server answered with something that is not JSON'));
        }
      } else {
        reject(errorFromBody(xhr.status, xhr.statusText, xhr.responseText));
      }
    };
    xhr.onerror = () =>
      reject(new ApiError(0, 'network_error', `Could not upload ${file.name}: the connection failed`));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', `Upload of ${file.name} was cancelled`));
    xhr.send(file);
  });
}

async function apiJson<T>(token: string, method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        Accept: 'application/json',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'network_error', 'Could not reach the server');
  }
  if (!response.ok) throw await errorFromResponse(response);
  return (await response.json()) as T;
}

/** `GET /api/settings`: the stage's presets, preset policy, default gravity and limits. */
export function getSettings(token: string): Promise<StageSettings> {
  return apiJson<StageSettings>(token, 'GET', '/api/settings');
}

/** `PATCH /api/images/<key>` with a focal point (or null to clear it); the server purges the key's derivatives. */
export function saveFocalPoint(token: string, key: string, focalPoint: { x: number; y: number } | null) {
  return apiJson<ImageItem>(token, 'PATCH', `/api/images/${keyPath(key).slice(1)}`, { focalPoint });
}

/** Files above what one API request carries (a function URL's event, base64) go through the staged multipart path. */
export const STAGED_UPLOAD_THRESHOLD = MAX_DIRECT_UPLOAD_BYTES;
const PARALLEL_PARTS = 3;

interface StagedUpload {
  uploadId: string;
  key: string;
  partSize: number;
  parts: Array<{ partNumber: number; url: string }>;
}

/** PUTs one part to its presigned URL, reporting bytes sent; answers the part's ETag. */
function putPart(url: string, body: Blob, onSent: (bytes: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.upload.onprogress = (event) => onSent(event.loaded);
    xhr.onload = () => {
      const etag = xhr.getResponseHeader('ETag');
      if (xhr.status >= 200 && xhr.status < 300 && etag) {
        onSent(body.size);
        resolve(etag);
      } else reject(errorFromBody(xhr.status, xhr.statusText, xhr.responseText));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network_error', 'A part upload failed: the connection failed'));
    xhr.send(body);
  });
}

/**
 * A large file through `POST /api/uploads`: its parts straight to their
 * presigned URLs (three at a time, each retried once, progress per byte),
 * then `complete`, which checks and ingests them as `PUT` would. Any failure
 * aborts the upload, so nothing is left staged.
 */
export async function uploadStaged(
  file: File,
  token: string,
  onProgress: (fraction: number) => void,
): Promise<UploadResult> {
  const created = await apiJson<StagedUpload>(token, 'POST', '/api/uploads', {
    bytes: file.size,
    contentType: file.type || undefined,
    meta: { filename: encodeURIComponent(file.name.slice(0, 100)) },
  });
  const sent = new Map<number, number>();
  const report = () => onProgress(Math.min(0.99, [...sent.values()].reduce((a, b) => a + b, 0) / file.size));
  const etags: Array<{ partNumber: number; etag: string }> = [];
  const queue = [...created.parts];
  try {
    await Promise.all(
      Array.from({ length: PARALLEL_PARTS }, async () => {
        for (let part = queue.shift(); part; part = queue.shift()) {
          const start = (part.partNumber - 1) * created.partSize;
          const body = file.slice(start, Math.min(file.size, start + created.partSize));
          const onSent = (bytes: number) => {
            sent.set(part.partNumber, bytes);
            report();
          };
          const etag = await putPart(part.url, body, onSent).catch(() => putPart(part.url, body, onSent));
          etags.push({ partNumber: part.partNumber, etag });
        }
      }),
    );
    etags.sort((a, b) => a.partNumber - b.partNumber);
    const result = await apiJson<UploadResult>(
      token,
      'POST',
      `/api/uploads/${encodeURIComponent(created.uploadId)}/complete`,
      { parts: etags },
    );
    onProgress(1);
    return result;
  } catch (error) {
    await fetch(`/api/uploads/${encodeURIComponent(created.uploadId)}`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${token}` },
    }).catch(() => undefined);
    throw error;
  }
}

/** The file name sent at upload, if any, for display. */
export function displayName(item: ImageItem): string {
  const raw = item.meta?.filename;
  if (!raw) return item.key;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
