/**
 * The body of an API request, read only when a route asks for it (after the
 * caller is authenticated) and never past the route's limit. Deployed, a
 * function URL delivers it inside the event (base64 unless text); locally the
 * adapter hands it over as an unread stream (`BODY_STREAM`).
 */
import { Readable } from 'node:stream';
import { HttpError } from '../core/errors.js';
import { BODY_STREAM, type FunctionUrlEvent } from './lambda-stream.js';

export interface RequestBody {
  /**
   * The whole body. Past `limit` bytes it throws `tooLarge()` and reads no
   * further, so a refused body is never held.
   */
  read(limit: number, tooLarge: () => Error): Promise<Buffer>;
  /** The body as a stream, for a route that does not hold it whole. Read once. */
  stream(): Readable;
}

export function requestBody(event: FunctionUrlEvent): RequestBody {
  const streamed = event[BODY_STREAM];
  const inline = () =>
    event.body ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
  return {
    async read(limit, tooLarge) {
      if (!streamed) {
        const body = inline();
        if (body.length > limit) throw tooLarge();
        return body;
      }
      const chunks: Buffer[] = [];
      let length = 0;
      for await (const chunk of streamed as AsyncIterable<Buffer>) {
        length += chunk.length;
        // Leaving the loop destroys the stream: the rest is not read.
        if (length > limit) throw tooLarge();
        chunks.push(chunk);
      }
      return Buffer.concat(chunks, length);
    },
    stream: () => streamed ?? Readable.from([inline()]),
  };
}

/**
 * The `Content-Type`s an image body may be sent with: none, `application/octet-stream` or `image/*`.
 * Deployed, a function URL hands a text-typed body (`text/*`, JSON, `application/x-www-form-urlencoded`,
 * curl's default for `--data-binary`…) to the function as a UTF-8 string ("Invoking Lambda function
 * URLs": only binary bodies arrive base64-encoded), which mangles binary beyond repair. So every other
 * type is refused here, where the deployed and the local path both pass, before the body is read: the
 * same 415 on both, never an image stored intact locally and mangled deployed.
 */
export function checkImageContentType(contentType: string | undefined): void {
  const type = (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
  if (type === '' || type === 'application/octet-stream' || /^image\/[a-z0-9.+-]+$/.test(type)) return;
  throw new HttpError(
    'unsupported_format',
    `Expected Content-Type application/octet-stream or image/* for an image body but received '${type.slice(0, 100)}': text types reach the function as UTF-8 text, which mangles binary`,
  );
}
