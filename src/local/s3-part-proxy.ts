/**
 * `PUT /_local/s3/<staging bucket>/<staged key>?partNumber=&uploadId=&X-Amz-…`:
 * the local CDN's door to the embedded S3 for the part URLs of staged uploads
 * (CONTRACT.md §7).
 *
 * Why a proxy rather than presigning against s3rver's own endpoint: s3rver
 * listens on a loopback port of its own, a different origin from the
 * playground (a browser's PUT would need CORS configured in s3rver and its
 * `ETag` exposed), and unreachable when the CDN is bound to another address
 * (`--host 0.0.0.0` for a phone on the LAN) or when `S3_ENDPOINT` names a
 * server only this process can reach. Part URLs on the CDN's own address work
 * wherever the playground does. The door is narrow: only `PUT` of a part
 * (`partNumber` and `uploadId` present, presigned) into the staging bucket,
 * so the originals and derivatives buckets stay unreachable through it.
 *
 * s3rver accepts any signature (`allowMismatchedSignatures`), so the proxy
 * refuses an expired URL itself (`X-Amz-Date` + `X-Amz-Expires`, as S3 does)
 * rather than trusting whichever S3-compatible server sits behind it; the
 * unguessable S3 upload id in the URL is the capability.
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { HttpError } from '../core/errors.js';
import { sendError } from './reply.js';

/** Where the part URLs point, under the CDN's own origin. */
export const S3_PART_PREFIX = '/_local/s3';

export interface S3PartProxyOptions {
  /** The S3-compatible server the parts go to (s3rver). */
  s3Endpoint: string;
  stagingBucket: string;
  /** @default Date.now */
  now?: () => number;
}

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'PUT',
  'Access-Control-Allow-Headers': 'content-type, content-length',
  'Access-Control-Expose-Headers': 'ETag',
  'Access-Control-Max-Age': '600',
};

export function createS3PartProxy({ s3Endpoint, stagingBucket, now = Date.now }: S3PartProxyOptions) {
  const target = new URL(s3Endpoint);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;

  return async function proxyPart(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const path = url.pathname.slice(S3_PART_PREFIX.length);
    if (!path.startsWith(`/${stagingBucket}/staged/`)) {
      return sendError(res, new HttpError('not_found', 'Not found'), CORS);
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS).end();
      return;
    }
    if (req.method !== 'PUT') {
      return sendError(res, new HttpError('method_not_allowed', 'Part URLs take PUT'), { ...CORS, Allow: 'PUT' });
    }
    const query = url.searchParams;
    if (!query.get('partNumber') || !query.get('uploadId') || !query.get('X-Amz-Signature')) {
      return sendError(res, new HttpError('forbidden', 'Not a presigned part URL'), CORS);
    }
    const signedAt = parseAmzDate(query.get('X-Amz-Date') ?? '');
    const lifetime = Number(query.get('X-Amz-Expires'));
    if (signedAt === undefined || !Number.isInteger(lifetime) || lifetime < 0) {
      return sendError(res, new HttpError('forbidden', 'Not a presigned part URL'), CORS);
    }
    if (now() > signedAt + lifetime * 1000) {
      return sendError(res, new HttpError('expired', 'This part URL has expired; start a new upload'), CORS);
    }

    const headers: Record<string, string> = {};
    for (const name of ['content-length', 'content-type', 'content-md5']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const basePath = target.pathname.replace(/\/+$/, '');
    await new Promise<void>((resolve) => {
      const upstream = send(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: 'PUT',
          path: `${basePath}${path}${url.search}`,
          headers,
        },
        (answer) => {
          const status = answer.statusCode ?? 502;
          if (status >= 200 && status < 300) {
            answer.resume();
            const etag = answer.headers.etag;
            res.writeHead(200, { ...CORS, ...(etag ? { ETag: etag } : {}), 'Content-Length': '0' }).end();
            return resolve();
          }
          // S3's XML names buckets and keys: the caller gets the contract's JSON instead.
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => {
            sendError(res, translate(status, Buffer.concat(chunks).toString('utf8')), CORS);
            resolve();
          });
          answer.on('error', () => {
            if (!res.headersSent) sendError(res, storageError(), CORS);
            resolve();
          });
        },
      );
      upstream.on('error', () => {
        if (!res.headersSent) sendError(res, storageError(), CORS);
        req.resume();
        resolve();
      });
      req.on('error', () => upstream.destroy());
      req.pipe(upstream);
    });
  };
}

function storageError(): HttpError {
  return new HttpError('storage_error', 'Staging storage is unavailable; try again');
}

function translate(status: number, body: string): HttpError {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
  if (code === 'NoSuchUpload' || status === 404) return new HttpError('not_found', 'No such upload');
  if (/expired/i.test(body)) return new HttpError('expired', 'This part URL has expired; start a new upload');
  if (status === 403) return new HttpError('forbidden', 'This part URL is not valid');
  if (code === 'EntityTooLarge') return new HttpError('too_large', 'The part is too large');
  if (status >= 400 && status < 500) return new HttpError('invalid_param', 'S3 refused the part');
  return storageError();
}

/** `20261201T104900Z` → epoch milliseconds. */
function parseAmzDate(value: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return Date.UTC(y as number, (mo as number) - 1, d, h, mi, s);
}
