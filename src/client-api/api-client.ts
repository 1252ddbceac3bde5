/**
 * The one client of the image API, shared by the CLI and the playground: its
 * JSON errors, and staged uploads (`POST /api/uploads`, the parts to their
 * presigned URLs, `complete`) with one threshold, one parallelism and one
 * retry policy. Runs in a browser and in Node 20 alike: `fetch` only, no
 * `node:` import. How a part's bytes travel is the caller's `sendPart`, since
 * only it can report upload progress (XMLHttpRequest in a page; node:http in
 * the CLI, which also gives S3 the `Content-Length` a presigned PUT wants).
 */
import { MAX_DIRECT_UPLOAD_BYTES } from '../core/limits.js';

/** Files larger than one API request carries (a function URL's event, base64) go through a staged upload. */
export const STAGED_UPLOAD_THRESHOLD_BYTES = MAX_DIRECT_UPLOAD_BYTES;
/** Parts of one file in flight at once (each up to the API's part size, 8 MiB): memory holds at most this many. */
export const PART_CONCURRENCY = 4;
/** Tries of each part, backing off between them. */
export const PART_ATTEMPTS = 3;
const BACKOFF_MS = 250;

/** An error answered by the API or a part URL, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** "The API token is not valid (403 forbidden)". */
  get readable(): string {
    if (this.status === 0) return this.message;
    return `${this.message} (${this.status} ${this.code})`;
  }

  /** A failure that may pass on a second try: the network, a 5xx, 408, 429. Other 4xx will not get better. */
  get retryable(): boolean {
    return this.status === 0 || this.status >= 500 || this.status === 408 || this.status === 429;
  }
}

/** A part that failed every attempt it was allowed; its message says how often and why. */
export class PartUploadError extends ApiError {
  override readonly name = 'PartUploadError';
}

/**
 * An `ApiError` from a response body that should be the API's `{status, code,
 * message}`, or S3's XML `<Error><Code>…`, or anything else (a proxy's page).
 */
export function errorFromBody(status: number, statusText: string, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { status?: unknown; code?: unknown; message?: unknown };
    if (typeof body.code === 'string' || (typeof body.message === 'string' && body.message)) {
      return new ApiError(
        typeof body.status === 'number' ? body.status : status,
        typeof body.code === 'string' ? body.code : 'error',
        typeof body.message === 'string' && body.message ? body.message : `The server answered ${status}`,
      );
    }
  } catch {
    // Not JSON: fall through.
  }
  const s3Code = /<Code>([A-Za-z]+)<\/Code>/.exec(text)?.[1];
  if (s3Code) return new ApiError(status, s3Code, /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? s3Code);
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

/** An image as the API describes it (`GET /api/images`, an upload's answer). */
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
  /** Fractions of the displayed original; null when none is stored. */
  focalPoint?: { x: number; y: number } | null;
}

/** What an upload answers: the stored image and its URL on the CDN. */
export interface UploadResult extends ImageItem {
  version: number;
  url: string;
}

/** `POST /api/uploads`'s answer. */
export interface CreatedUpload {
  uploadId: string;
  key: string;
  partSize: number;
  parts: { partNumber: number; url: string }[];
}

/**
 * PUTs one part to its presigned URL and answers its ETag, calling `onSent`
 * with each increment of bytes written. Throws an `ApiError` (status 0 for the
 * network) so the retry policy can tell what may pass on a second try.
 */
export type SendPart<Body> = (url: string, body: Body, onSent: (delta: number) => void) => Promise<string>;

export interface StagedUploadRequest<Body> {
  bytes: number;
  /** @default a key the API picks */
  key?: string;
  contentType?: string;
  meta?: Record<string, string>;
  /** The part's bytes, read when its turn comes. */
  readPart: (offset: number, length: number) => Promise<Body>;
  sendPart: SendPart<Body>;
  /** Every change of the bytes uploaded (negative when a failed attempt is rolled back). */
  onBytes?: (delta: number) => void;
}

export class ApiClient {
  /**
   * @param endpoint the API's origin (`https://cdn.example.com`), or '' for the
   *   page's own origin
   */
  constructor(
    readonly endpoint: string,
    private readonly token: string,
  ) {}

  /** One JSON call: the answer's body, or an `ApiError` (status 0 when the server cannot be reached). */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body);
    if (!response.ok) throw await errorFromResponse(response);
    return (await response.json()) as T;
  }

  /** `PUT /api/images/<key>`: one request, up to `STAGED_UPLOAD_THRESHOLD_BYTES`. */
  async putImage(
    key: string,
    body: Uint8Array | Blob,
    contentType = 'application/octet-stream',
  ): Promise<UploadResult> {
    const path = `/api/images/${key.split('/').map(encodeURIComponent).join('/')}`;
    const response = await this.send('PUT', path, body, contentType);
    if (!response.ok) throw await errorFromResponse(response);
    return (await response.json()) as UploadResult;
  }

  private async send(method: string, path: string, body?: unknown, contentType?: string): Promise<Response> {
    const json = body !== undefined && contentType === undefined;
    try {
      return await fetch(`${this.endpoint}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': contentType ?? 'application/json' }),
        },
        body: body === undefined ? undefined : json ? JSON.stringify(body) : (body as BodyInit),
        cache: 'no-store',
      });
    } catch (error) {
      const reason = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
      throw new ApiError(0, 'network_error', `Could not reach the server${reason}`);
    }
  }

  /**
   * A large file through a staged upload: its parts straight to their presigned
   * URLs (`PART_CONCURRENCY` at once, each tried up to `PART_ATTEMPTS` times with
   * backoff), then `complete`, which checks and ingests them as a direct upload
   * would. If a part still fails the upload is aborted, so nothing is left staged.
   */
  async stagedUpload<Body>(request: StagedUploadRequest<Body>): Promise<UploadResult> {
    const created = await this.json<CreatedUpload>('POST', '/api/uploads', {
      bytes: request.bytes,
      ...(request.key === undefined ? {} : { key: request.key }),
      ...(request.contentType ? { contentType: request.contentType } : {}),
      ...(request.meta ? { meta: request.meta } : {}),
    });
    const id = encodeURIComponent(created.uploadId);
    let etags: { partNumber: number; etag: string }[];
    try {
      etags = await sendParts(created, request);
    } catch (error) {
      await this.send('DELETE', `/api/uploads/${id}`).then(
        (response) => response.body?.cancel(),
        () => undefined,
      );
      throw error;
    }
    return this.json<UploadResult>('POST', `/api/uploads/${id}/complete`, { parts: etags });
  }
}

async function sendParts<Body>(
  created: CreatedUpload,
  request: StagedUploadRequest<Body>,
): Promise<{ partNumber: number; etag: string }[]> {
  const onBytes = request.onBytes ?? (() => {});
  const etags: { partNumber: number; etag: string }[] = [];
  const queue = [...created.parts];
  let failed: unknown;
  const worker = async () => {
    for (let part = queue.shift(); part && failed === undefined; part = queue.shift()) {
      const offset = (part.partNumber - 1) * created.partSize;
      const body = await request.readPart(offset, Math.max(0, Math.min(created.partSize, request.bytes - offset)));
      try {
        etags.push({
          partNumber: part.partNumber,
          etag: await sendWithRetries(request.sendPart, part.url, body, onBytes),
        });
      } catch (error) {
        failed ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, created.parts.length) }, worker));
  if (failed !== undefined) throw failed;
  return etags.sort((a, b) => a.partNumber - b.partNumber);
}

async function sendWithRetries<Body>(
  sendPart: SendPart<Body>,
  url: string,
  body: Body,
  onBytes: (delta: number) => void,
): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    let sent = 0;
    try {
      return await sendPart(url, body, (delta) => {
        sent += delta;
        onBytes(delta);
      });
    } catch (error) {
      onBytes(-sent);
      const failure =
        error instanceof ApiError
          ? error
          : new ApiError(0, 'network_error', (error as Error)?.message ?? String(error));
      if (!failure.retryable || attempt >= PART_ATTEMPTS) {
        const what = failure.status === 0 ? failure.message : `${failure.status} ${failure.code}`;
        throw new PartUploadError(
          failure.status,
          failure.code,
          `part upload failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${what}`,
        );
      }
      // Exponential backoff with jitter: 250 ms, 500 ms… each ±50%.
      const delay = BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
