/**
 * One file through a staged multipart upload (CONTRACT.md §7): `POST
 * /api/uploads` gives presigned part URLs, the parts are PUT in parallel
 * (`PART_CONCURRENCY` at once, each read from the file when its turn comes,
 * so memory holds at most that many parts), every failed part is retried with
 * backoff, and `complete` ingests them. If a part still fails, the upload is
 * aborted (`DELETE /api/uploads/<id>`) so nothing is left in the staging bucket.
 *
 * Parts go through node:http(s) rather than fetch: S3 wants a
 * `Content-Length` on a presigned PUT, and writing the body in slices is what
 * gives the progress bar its bytes.
 */

import { open } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { MAX_DIRECT_UPLOAD_BYTES } from '../core/limits.js';
import { describeFailure } from './common.js';

/** Files larger than one API request carries (a function URL's event, base64) go through a staged upload. */
export const STAGED_THRESHOLD_BYTES = MAX_DIRECT_UPLOAD_BYTES;
/** Parts of one file in flight at once (each up to the API's part size, 8 MiB). */
export const PART_CONCURRENCY = 4;
/** Tries of each part, backing off between them. */
export const PART_ATTEMPTS = 3;
const BACKOFF_MS = 250;
/** Bytes written to the socket per slice (the progress bar's grain). */
const SLICE_BYTES = 256 * 1024;
/** A part that makes no progress for this long is a failed attempt. */
const PART_TIMEOUT_MS = 120_000;

export interface StagedUploadOptions {
  endpoint: string;
  token: string;
  file: string;
  size: number;
  key: string;
  /** Called with every change of the bytes uploaded (negative when a failed attempt is rolled back). */
  onBytes?: (delta: number) => void;
}

export interface SavedImage {
  key: string;
  version: number;
  bytes: number;
  url: string;
}

interface Created {
  uploadId: string;
  partSize: number;
  parts: { partNumber: number; url: string }[];
}

/** A failure whose message is the line's `error`. */
export class UploadFailure extends Error {}

export async function stagedUpload(options: StagedUploadOptions): Promise<SavedImage> {
  const { endpoint, token, file, size, key } = options;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const started = await fetch(`${endpoint}/api/uploads`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ key, bytes: size }),
  });
  if (started.status !== 201) throw new UploadFailure(await describeFailure(started));
  const created = (await started.json()) as Created;

  const abort = async () => {
    await fetch(`${endpoint}/api/uploads/${created.uploadId}`, { method: 'DELETE', headers }).then(
      (response) => response.body?.cancel(),
      () => undefined,
    );
  };

  let etags: { partNumber: number; etag: string }[];
  const handle = await open(file, 'r');
  try {
    etags = await uploadParts(created, size, (offset, length) => readSlice(handle, offset, length), options.onBytes);
  } catch (error) {
    await abort();
    throw error;
  } finally {
    await handle.close();
  }

  const done = await fetch(`${endpoint}/api/uploads/${created.uploadId}/complete`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ parts: etags }),
  });
  if (done.status !== 200 && done.status !== 201) throw new UploadFailure(await describeFailure(done));
  return (await done.json()) as SavedImage;
}

async function readSlice(handle: Awaited<ReturnType<typeof open>>, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const { bytesRead } = await handle.read(buffer, read, length - read, offset + read);
    if (bytesRead === 0) throw new UploadFailure('The file got shorter while it was uploaded');
    read += bytesRead;
  }
  return buffer;
}

async function uploadParts(
  created: Created,
  size: number,
  read: (offset: number, length: number) => Promise<Buffer>,
  onBytes: (delta: number) => void = () => {},
): Promise<{ partNumber: number; etag: string }[]> {
  const etags: { partNumber: number; etag: string }[] = [];
  const queue = [...created.parts];
  let failed: unknown;
  const worker = async () => {
    for (let part = queue.shift(); part && failed === undefined; part = queue.shift()) {
      const offset = (part.partNumber - 1) * created.partSize;
      const body = await read(offset, Math.max(0, Math.min(created.partSize, size - offset)));
      try {
        etags.push({ partNumber: part.partNumber, etag: await putWithRetries(part.url, body, onBytes) });
      } catch (error) {
        failed ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, created.parts.length) }, worker));
  if (failed !== undefined) throw failed;
  return etags.sort((a, b) => a.partNumber - b.partNumber);
}

async function putWithRetries(url: string, body: Buffer, onBytes: (delta: number) => void): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    let sent = 0;
    try {
      return await putPart(url, body, (delta) => {
        sent += delta;
        onBytes(delta);
      });
    } catch (error) {
      onBytes(-sent);
      const retryable = !(error instanceof PartRefused) || error.retryable;
      if (!retryable || attempt >= PART_ATTEMPTS) {
        throw new UploadFailure(
          `part upload failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${(error as Error).message}`,
        );
      }
      // Exponential backoff with jitter: 250 ms, 500 ms… each ±50%.
      const delay = BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** A part answered with an error status; 4xx other than 408/429 will not get better by retrying. */
class PartRefused extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

function putPart(url: string, body: Buffer, progress: (delta: number) => void): Promise<string> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<string>((resolve, reject) => {
    const request = send(target, { method: 'PUT', headers: { 'content-length': String(body.length) } });
    request.setTimeout(PART_TIMEOUT_MS, () => request.destroy(new Error('the part timed out')));
    request.on('error', reject);
    request.on('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        const etag = response.headers.etag;
        if (status >= 200 && status < 300 && etag) return resolve(etag);
        const text = Buffer.concat(chunks).toString('utf8');
        const code = safeCode(text);
        reject(
          new PartRefused(
            `${status}${code ? ` ${code}` : etag ? '' : ' (no ETag)'}`,
            status >= 500 || status === 408 || status === 429 || (status < 300 && !etag),
          ),
        );
      });
    });
    let offset = 0;
    const writeMore = () => {
      while (offset < body.length) {
        const slice = body.subarray(offset, offset + SLICE_BYTES);
        offset += slice.length;
        const more = request.write(slice, (error) => {
          if (!error) progress(slice.length);
        });
        if (!more) return void request.once('drain', writeMore);
      }
      request.end();
    };
    writeMore();
  });
}

/** The contract's JSON `code`, or S3's XML `<Code>`, of an error answer. */
function safeCode(text: string): string | undefined {
  try {
    const code = (JSON.parse(text) as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  } catch {
    // not JSON
  }
  return /<Code>([A-Za-z]+)<\/Code>/.exec(text)?.[1];
}
