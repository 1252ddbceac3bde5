/**
 * `PUT /_local/s3/<staging bucket>/staged/<id>?partNumber=&uploadId=&X-Amz-…`:
 * the local CDN's door to the embedded S3 for the part URLs of staged uploads.
 *
 * Why a proxy rather than presigning against s3rver's own endpoint: s3rver
 * listens on a loopback port of its own, a different origin from the
 * playground, and unreachable when the CDN is bound to another address
 * (`--host 0.0.0.0` for a phone on the LAN) or when `S3_ENDPOINT` names a
 * server only this process can reach. Part URLs on the CDN's own address work
 * wherever the playground does.
 *
 * The door is a boundary, as S3 is deployed. s3rver checks no signature and
 * builds file paths from what it is given, so nothing reaches it before:
 * - the path is exactly one staged object of the staging bucket, the query
 *   exactly the names a presigned UploadPart carries, once each;
 * - the SigV4 query signature is recomputed ("Authenticating Requests: Using
 *   Query Parameters (AWS Signature Version 4)", Amazon S3 API Reference) with
 *   a secret derived from the master key, which the API's presigning client
 *   holds and nobody else: only a part the API issued, for the upload, part
 *   number and `Content-Length` it issued, gets through;
 * - the URL's life is checked on this server's clock (`X-Amz-Date` is signed,
 *   so the caller cannot move it), at most S3's seven days;
 * - CORS answers only the CDN's own origin (and its loopback aliases), never `*`.
 * Everything refused is a JSON error; no request names a path.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpError } from '../core/errors.js';
import { LOCAL_CREDENTIALS } from '../storage/clients.js';
import type { MasterKeyProvider } from '../storage/master-key.js';
import { partNumberOf } from './embedded-servers.js';
import { isLoopbackOrigin } from './local-token.js';
import { sendError } from './reply.js';

/** Where the part URLs point, under the CDN's own origin. */
export const S3_PART_PREFIX = '/_local/s3';

export interface PartDoorCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface S3PartProxyOptions {
  /** The S3-compatible server the parts go to (s3rver). */
  s3Endpoint: string;
  stagingBucket: string;
  /** The region part URLs are signed for. */
  region: string;
  /** What the API's presigning client signs part URLs with (`partDoorCredentials`). */
  credentials: () => Promise<PartDoorCredentials>;
  /** The CDN's own origin, where part URLs point; undefined until it listens. */
  publicUrl: () => string | undefined;
  /** What the S3-compatible server behind takes. @default the local static keys */
  upstreamCredentials?: PartDoorCredentials;
  /** @default Date.now */
  now?: () => number;
}

const ACCESS_KEY_ID = 'edge-resizer-local-part-door';

/**
 * The credentials part URLs are signed with locally: a secret derived from the
 * master key, so part URLs survive a restart and nobody without the key can
 * make one (the static keys s3rver takes are public).
 */
export function partDoorCredentials(masterKey: MasterKeyProvider): () => Promise<PartDoorCredentials> {
  return async () => ({
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: createHmac('sha256', await masterKey())
      .update('edge-resizer local part door v1')
      .digest('base64url'),
  });
}

/** The query of a presigned UploadPart as the SDK writes it; nothing else is taken. */
const REQUIRED_QUERY = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-Signature',
  'X-Amz-SignedHeaders',
  'partNumber',
  'uploadId',
];
const OPTIONAL_QUERY = ['X-Amz-Content-Sha256', 'x-id'];
/** S3's longest presigned URL life: seven days. */
const MAX_EXPIRES_SECONDS = 7 * 24 * 60 * 60;
/** A URL signed this far in the future of this server's clock is refused. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;
/** S3's largest part. */
const MAX_PART_BYTES = 5 * 1024 * 1024 * 1024;
/** S3's upload ids are base64url-ish; s3rver's are hex. */
const UPLOAD_ID = /^[A-Za-z0-9_.-]{1,1024}$/;

export function createS3PartProxy(options: S3PartProxyOptions) {
  const { s3Endpoint, stagingBucket, region, credentials, publicUrl, now = Date.now } = options;
  const target = new URL(s3Endpoint);
  // The part goes on signed anew for the server behind, with only the two names UploadPart needs.
  const upstreamSigner = new SignatureV4({
    credentials: options.upstreamCredentials ?? LOCAL_CREDENTIALS,
    region,
    service: 's3',
    sha256: NodeSha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const objectPath = new RegExp(`^${S3_PART_PREFIX}/${escapeRegExp(stagingBucket)}/staged/[0-9a-f]{32}$`);

  /** CORS headers for a request from `origin`: only the CDN's own origin and its loopback aliases. */
  function corsFor(req: IncomingMessage): Record<string, string> {
    const origin = req.headers.origin;
    const own = publicUrl();
    if (typeof origin !== 'string' || own === undefined) return {};
    const ownUrl = new URL(own);
    const allowed =
      origin === ownUrl.origin ||
      (isLoopbackOrigin(ownUrl.origin) && isLoopbackOrigin(origin) && new URL(origin).port === ownUrl.port);
    if (!allowed) return { Vary: 'Origin' };
    return {
      'Access-Control-Allow-Origin': origin,
      'Access-Control-Allow-Methods': 'PUT',
      'Access-Control-Allow-Headers': 'content-type',
      'Access-Control-Expose-Headers': 'ETag',
      'Access-Control-Max-Age': '600',
      Vary: 'Origin',
    };
  }

  return async function proxyPart(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const cors = corsFor(req);
    const refuse = (error: HttpError) => {
      // The body is not read: it goes nowhere, and the connection is not reused.
      res.setHeader('Connection', 'close');
      sendError(res, error, cors);
    };
    const [rawPath = '', rawQuery = ''] = (req.url ?? '/').split('?', 2);
    if (!objectPath.test(rawPath)) return refuse(new HttpError('not_found', 'Not found'));
    if (req.method === 'OPTIONS') {
      if (!cors['Access-Control-Allow-Origin']) return refuse(new HttpError('forbidden', 'Not from this CDN'));
      res.writeHead(204, cors).end();
      return;
    }
    if (req.method !== 'PUT') {
      res.setHeader('Allow', 'PUT');
      return refuse(new HttpError('method_not_allowed', 'Part URLs take PUT'));
    }
    const own = publicUrl();
    const query = parseQuery(rawQuery);
    if (!query || own === undefined) return refuse(new HttpError('forbidden', 'Not a presigned part URL'));
    const checked = await checkSignature(req, rawPath, query, new URL(own).host);
    if (checked instanceof HttpError) return refuse(checked);
    if (now() > checked.signedAt + checked.expiresSeconds * 1000) {
      return refuse(new HttpError('expired', 'This part URL has expired; start a new upload'));
    }
    if (checked.signedAt > now() + CLOCK_SKEW_MS)
      return refuse(new HttpError('forbidden', 'This part URL is not valid'));
    const contentLength = Number(req.headers['content-length']);
    if (!Number.isSafeInteger(contentLength) || contentLength > MAX_PART_BYTES) {
      return refuse(new HttpError('too_large', 'The part is too large'));
    }
    const part = { partNumber: query.get('partNumber') as string, uploadId: query.get('uploadId') as string };
    await forward(req, res, cors, rawPath.slice(S3_PART_PREFIX.length), part, contentLength);
  };

  async function checkSignature(
    req: IncomingMessage,
    rawPath: string,
    query: Map<string, string>,
    host: string,
  ): Promise<HttpError | { signedAt: number; expiresSeconds: number }> {
    const invalid = new HttpError('forbidden', 'This part URL is not valid');
    const get = (name: string) => query.get(name) ?? '';
    if (partNumberOf(get('partNumber')) === undefined || !UPLOAD_ID.test(get('uploadId'))) return invalid;
    const amzDate = get('X-Amz-Date');
    const signedAt = parseAmzDate(amzDate);
    const expiresSeconds = /^[1-9][0-9]{0,6}$/.test(get('X-Amz-Expires')) ? Number(get('X-Amz-Expires')) : 0;
    if (signedAt === undefined || expiresSeconds < 1 || expiresSeconds > MAX_EXPIRES_SECONDS) return invalid;
    if (get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return invalid;
    const { accessKeyId, secretAccessKey } = await credentials();
    const scope = `${amzDate.slice(0, 8)}/${region}/s3/aws4_request`;
    if (get('X-Amz-Credential') !== `${accessKeyId}/${scope}`) return invalid;
    // The presigner signs `host` and the part's `content-length`; both are required.
    if (get('X-Amz-SignedHeaders') !== 'content-length;host') return invalid;
    const contentLength = req.headers['content-length'];
    if (typeof contentLength !== 'string') return invalid;

    const canonicalQuery = [...query]
      .filter(([name]) => name !== 'X-Amz-Signature')
      .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => `${name}=${value}`)
      .join('&');
    const canonicalRequest = [
      'PUT',
      // The path the SDK signed: the public endpoint's path plus the object's (no characters to encode).
      rawPath,
      canonicalQuery,
      `content-length:${contentLength.trim()}\nhost:${host}\n`,
      'content-length;host',
      query.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD',
    ].join('\n');
    const stringToSign = [
      'AWS4-HMAC-SHA256',
      amzDate,
      scope,
      createHash('sha256').update(canonicalRequest).digest('hex'),
    ].join('\n');
    let key: Buffer = hmac(`AWS4${secretAccessKey}`, amzDate.slice(0, 8));
    for (const part of [region, 's3', 'aws4_request']) key = hmac(key, part);
    const expected = createHmac('sha256', key).update(stringToSign).digest();
    const given = Buffer.from(get('X-Amz-Signature'), 'hex');
    if (!/^[0-9a-f]{64}$/.test(get('X-Amz-Signature')) || !timingSafeEqual(expected, given)) {
      return new HttpError('invalid_signature', 'This part URL is not signed by this server');
    }
    return { signedAt, expiresSeconds };
  }

  async function forward(
    req: IncomingMessage,
    res: ServerResponse,
    cors: Record<string, string>,
    path: string,
    part: { partNumber: string; uploadId: string },
    contentLength: number,
  ): Promise<void> {
    const basePath = target.pathname.replace(/\/+$/, '');
    const signed = await upstreamSigner.sign({
      method: 'PUT',
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port ? Number(target.port) : undefined,
      path: `${basePath}${path}`,
      query: part,
      headers: {
        host: target.host,
        'content-length': String(contentLength),
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      },
    });
    const search = `partNumber=${part.partNumber}&uploadId=${encodeURIComponent(part.uploadId)}`;
    return new Promise<void>((resolve) => {
      const fail = (error: HttpError) => {
        if (!res.headersSent) sendError(res, error, cors);
        else res.destroy();
        resolve();
      };
      const upstream = send(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: 'PUT',
          path: `${basePath}${path}?${search}`,
          headers: signed.headers,
        },
        (answer) => {
          const status = answer.statusCode ?? 502;
          answer.on('error', () => fail(storageError()));
          if (status >= 200 && status < 300) {
            answer.resume();
            const etag = answer.headers.etag;
            res.writeHead(200, { ...cors, ...(etag ? { ETag: etag } : {}), 'Content-Length': '0' }).end();
            return resolve();
          }
          // S3's XML names buckets and keys: the caller gets the JSON error instead.
          const chunks: Buffer[] = [];
          let length = 0;
          answer.on('data', (chunk: Buffer) => {
            length += chunk.length;
            if (length <= 64 * 1024) chunks.push(chunk);
          });
          answer.on('end', () => fail(translate(status, Buffer.concat(chunks).toString('utf8'))));
        },
      );
      upstream.on('error', () => {
        req.resume();
        fail(storageError());
      });
      req.on('error', () => upstream.destroy());
      res.on('error', () => upstream.destroy());
      req.pipe(upstream);
    });
  }
}

/** node:crypto as the signer's hash. */
class NodeSha256 {
  private readonly hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: string | Uint8Array | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: string | Uint8Array | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

function toBuffer(data: string | Uint8Array | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** The query's names and values, or undefined unless it holds exactly a presigned part's names, once each. */
function parseQuery(rawQuery: string): Map<string, string> | undefined {
  const query = new Map<string, string>();
  for (const pair of rawQuery.split('&')) {
    const at = pair.indexOf('=');
    if (at < 1) return undefined;
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(pair.slice(0, at));
      value = decodeURIComponent(pair.slice(at + 1).replace(/\+/g, ' '));
    } catch {
      return undefined;
    }
    if (query.has(name) || (!REQUIRED_QUERY.includes(name) && !OPTIONAL_QUERY.includes(name))) return undefined;
    query.set(name, value);
  }
  return REQUIRED_QUERY.every((name) => query.has(name)) ? query : undefined;
}

/** SigV4's URI encoding: RFC 3986 unreserved characters kept, everything else %XX. */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function storageError(): HttpError {
  return new HttpError('storage_error', 'Staging storage is unavailable; try again');
}

function translate(status: number, body: string): HttpError {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
  if (code === 'NoSuchUpload' || status === 404) return new HttpError('not_found', 'No such upload');
  if (code === 'EntityTooLarge') return new HttpError('too_large', 'The part is too large');
  if (status === 403) return new HttpError('forbidden', 'This part URL is not valid');
  if (status >= 400 && status < 500) return new HttpError('invalid_param', 'S3 refused the part');
  return storageError();
}

/** `20261201T104900Z` → epoch milliseconds. */
function parseAmzDate(value: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  const at = Date.UTC(y as number, (mo as number) - 1, d, h, mi, s);
  return Number.isNaN(at) ? undefined : at;
}
