/**
 * The playground's calls: the token, the NDJSON listing, uploads with
 * progress. The calls and their errors are the API client's the CLI uses too
 * (src/client-api/api-client.ts); what is the page's own is XMLHttpRequest,
 * the one way a page learns how many bytes of a request are sent.
 */
import {
  ApiClient,
  ApiError,
  errorFromBody,
  errorFromResponse,
  type ImageItem,
  type UploadResult,
} from '../../src/client-api/api-client.js';
import { readNdjson } from './ndjson.js';
import { keyPath, type StageSettings } from './variant.js';

export type { ImageItem, UploadResult };
export { ApiError, errorFromResponse };

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

/** The API of the page's own origin. */
const api = (token: string) => new ApiClient('', token);

/** `GET /api/settings`: the stage's presets, preset policy, default gravity and limits. */
export function getSettings(token: string): Promise<StageSettings> {
  return api(token).json<StageSettings>('GET', '/api/settings');
}

/** `PATCH /api/images/<key>` with a focal point (or null to clear it); the server purges the key's derivatives. */
export function saveFocalPoint(token: string, key: string, focalPoint: { x: number; y: number } | null) {
  return api(token).json<ImageItem>('PATCH', `/api/images/${keyPath(key).slice(1)}`, { focalPoint });
}

/** PUTs one part to its presigned URL, reporting bytes sent; answers the part's ETag. */
function putPart(url: string, body: Blob, onSent: (delta: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    let sent = 0;
    const report = (total: number) => {
      onSent(total - sent);
      sent = total;
    };
    xhr.open('PUT', url);
    xhr.upload.onprogress = (event) => report(event.loaded);
    xhr.onload = () => {
      const etag = xhr.getResponseHeader('ETag');
      if (xhr.status >= 200 && xhr.status < 300 && etag) {
        report(body.size);
        resolve(etag);
      } else if (xhr.status >= 200 && xhr.status < 300) {
        // A success without an ETag cannot be completed (the bucket's CORS must expose it): worth another try.
        reject(new ApiError(0, 'no_etag', `A part upload answered ${xhr.status} without an ETag`));
      } else reject(errorFromBody(xhr.status, xhr.statusText, xhr.responseText));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network_error', 'A part upload failed: the connection failed'));
    xhr.send(body);
  });
}

/**
 * A large file through `POST /api/uploads`, by the API client's staged upload
 * (its parallelism, retries and abort), progress per byte.
 */
export async function uploadStaged(
  file: File,
  token: string,
  onProgress: (fraction: number) => void,
): Promise<UploadResult> {
  let sent = 0;
  const result = await api(token).stagedUpload({
    bytes: file.size,
    contentType: file.type || undefined,
    meta: { filename: encodeURIComponent(file.name.slice(0, 100)) },
    readPart: async (offset, length) => file.slice(offset, offset + length),
    sendPart: putPart,
    onBytes: (delta) => {
      sent += delta;
      onProgress(Math.min(0.99, sent / file.size));
    },
  });
  onProgress(1);
  return result;
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
