/**
 * The body of an API request, read only when a route asks for it (after the
 * caller is authenticated) and never past the route's limit. Deployed, a
 * function URL delivers it inside the event (base64 unless text); locally the
 * adapter hands it over as an unread stream (`BODY_STREAM`).
 */
import { Readable } from 'node:stream';
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
