/**
 * One file through a staged multipart upload, by the API client the playground
 * uses too (src/client-api/api-client.ts: its parallelism, retries and abort).
 * What is the CLI's own is how a part travels: read from the file when its turn
 * comes, and written through node:http(s) rather than fetch, since S3 wants a
 * `Content-Length` on a presigned PUT and writing the body in slices is what
 * gives the progress bar its bytes.
 */

import { open } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ApiClient, ApiError, errorFromBody, type UploadResult } from '../client-api/api-client.js';
import { describeApiError } from './common.js';

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

/** A failure whose message is the line's `error`. */
export class UploadFailure extends Error {}

export async function stagedUpload(options: StagedUploadOptions): Promise<UploadResult> {
  const { endpoint, token, file, size, key } = options;
  const handle = await open(file, 'r');
  try {
    return await new ApiClient(endpoint, token).stagedUpload({
      bytes: size,
      key,
      readPart: (offset, length) => readSlice(handle, offset, length),
      sendPart: putPart,
      onBytes: options.onBytes,
    });
  } catch (error) {
    throw error instanceof ApiError ? new UploadFailure(describeApiError(error)) : error;
  } finally {
    await handle.close();
  }
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

function putPart(url: string, body: Buffer, progress: (delta: number) => void): Promise<string> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<string>((resolve, reject) => {
    const request = send(target, { method: 'PUT', headers: { 'content-length': String(body.length) } });
    request.setTimeout(PART_TIMEOUT_MS, () => request.destroy(new Error('the part timed out')));
    request.on('error', (error) => reject(new ApiError(0, 'network_error', error.message)));
    request.on('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', (error) => reject(new ApiError(0, 'network_error', error.message)));
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        const etag = response.headers.etag;
        if (status >= 200 && status < 300 && etag) return resolve(etag);
        // A success without an ETag cannot be completed: worth another try, like the network.
        if (status >= 200 && status < 300) return reject(new ApiError(0, 'no_etag', `${status} (no ETag)`));
        reject(errorFromBody(status, response.statusMessage ?? '', Buffer.concat(chunks).toString('utf8')));
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
