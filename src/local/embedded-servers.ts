/**
 * The embedded S3- and DynamoDB-compatible servers (s3rver, dynalite) that the
 * local CDN and the tests run on loopback, with their state on disk.
 */

import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import dynalite from 'dynalite';
import S3rver from 's3rver';

export interface EmbeddedServer {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';

/** s3rver with `buckets` created; `port` 0 picks a free one. */
export async function startS3rver(options: {
  directory: string;
  buckets: string[];
  port?: number;
}): Promise<EmbeddedServer> {
  await mkdir(options.directory, { recursive: true });
  const server = new S3rver({
    address: LOOPBACK,
    port: options.port ?? 0,
    silent: true,
    directory: options.directory,
    // The SDK signs for the real AWS host; s3rver cannot check that signature.
    allowMismatchedSignatures: true,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });
  tolerateConcurrentDeletes(server);
  s3Rules(server);
  const { port } = await server.run();
  return {
    endpoint: `http://${LOOPBACK}:${port}`,
    port,
    close: async () => {
      const closing = server.close();
      // Clients' kept-alive connections would hold the close open until they time out.
      server.httpServer?.closeAllConnections();
      await closing;
    },
  };
}

/**
 * s3rver deletes the keys of one DeleteObjects concurrently, and each delete
 * then removes its directory once it looks empty: two deletes emptying one
 * directory race, and the loser's `rmdir`/`readdir` fails with ENOENT, which
 * s3rver answers as a 500 for the whole batch although every object is gone.
 * The objects' own files are already unlinked by then, so that error is
 * only the clean-up's and is dropped here.
 */
function tolerateConcurrentDeletes(server: S3rver): void {
  const store = (server as unknown as { store?: { deleteObject(bucket: string, key: string): Promise<void> } }).store;
  if (!store) return;
  const deleteObject = store.deleteObject.bind(store);
  store.deleteObject = async (bucket, key) => {
    try {
      await deleteObject(bucket, key);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTEMPTY') throw error;
    }
  };
}

/**
 * S3's multipart and conditional-write rules in front of s3rver, which is laxer
 * than S3 in ways that matter to staged uploads:
 *
 * - s3rver builds file paths from `uploadId` and `partNumber` as given, and
 *   accepts a part for an upload that does not exist (it creates the
 *   directory): here an upload id is s3rver's own 32 hex digits of an upload
 *   it started, and a part number is 1..10000 ("UploadPart", Amazon S3 API
 *   Reference; "Amazon S3 multipart upload limits"), checked before s3rver
 *   sees the request, so no request names a path.
 * - s3rver's CompleteMultipartUpload ignores ETags and order and reads part
 *   files on streams nobody listens to (a missing part kills the process).
 *   Here, as in "CompleteMultipartUpload" (Amazon S3 API Reference), a part
 *   list out of order is `InvalidPartOrder`, a part not uploaded or with
 *   another ETag `InvalidPart`, any part but the last under 5 MiB
 *   `EntityTooSmall`, and an upload being completed or aborted takes no
 *   other complete, abort or part (`NoSuchUpload`, as once it is done).
 * - s3rver has no AbortMultipartUpload or ListParts: both are answered here
 *   from s3rver's upload directory (`<bucket>/._S3rver_uploads/<id>`).
 * - s3rver ignores `If-None-Match: *` on PutObject: here it creates only when
 *   the key is absent (412 `PreconditionFailed`), and of two at once one wins
 *   (409 `ConditionalRequestConflict`), as in "How to prevent object
 *   overwrites with conditional writes" (Amazon S3 User Guide).
 */
function s3Rules(server: S3rver): void {
  const app = server as unknown as {
    middleware: ((ctx: S3rverContext, next: () => Promise<void>) => Promise<void>)[];
    store?: {
      getResourcePath(bucket: string, key: string | undefined, resource: string): string;
      existsObject(bucket: string, key: string): Promise<boolean>;
    };
  };
  const store = app.store;
  if (!store || !Array.isArray(app.middleware)) return;
  /** Uploads a complete or abort is working on. */
  const closing = new Set<string>();
  /** Part writes in progress per upload: a complete or abort waits for them. */
  const writing = new Map<string, number>();
  /** Keys a conditional PutObject is creating. */
  const creating = new Set<string>();

  const uploadDir = (bucket: string, uploadId: string) =>
    join(store.getResourcePath(bucket, undefined, 'uploads'), uploadId);

  async function settled(uploadId: string): Promise<void> {
    for (let waited = 0; (writing.get(uploadId) ?? 0) > 0 && waited < PART_WRITE_WAIT_MS; waited += 10) {
      await sleep(10);
    }
  }

  app.middleware.unshift(async (ctx, next) => {
    const target = parseTarget(ctx.path);
    const rawUploadId = ctx.query.uploadId;
    if (rawUploadId === undefined) {
      if (ctx.method === 'PUT' && ctx.headers['if-none-match'] === '*' && target) {
        return createOnly(ctx, next, target.bucket, target.key);
      }
      return next();
    }
    if (!target || typeof rawUploadId !== 'string' || !S3RVER_UPLOAD_ID.test(rawUploadId)) {
      return xmlError(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist.');
    }
    const { bucket, key } = target;
    const uploadId = rawUploadId;
    const dir = uploadDir(bucket, uploadId);
    const ownKey = await readFile(join(dir, 'key'), 'utf8').catch(() => undefined);
    if (ownKey !== key || closing.has(uploadId)) {
      return xmlError(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist.');
    }
    if (ctx.method === 'PUT') {
      const partNumber = ctx.query.partNumber;
      if (typeof partNumber !== 'string' || partNumberOf(partNumber) === undefined) {
        return xmlError(ctx, 400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive');
      }
      writing.set(uploadId, (writing.get(uploadId) ?? 0) + 1);
      try {
        return await next();
      } finally {
        const left = (writing.get(uploadId) ?? 1) - 1;
        if (left > 0) writing.set(uploadId, left);
        else writing.delete(uploadId);
      }
    }
    if (ctx.method === 'GET') return listParts(ctx, bucket, uploadId, dir);
    if (ctx.method !== 'DELETE' && ctx.method !== 'POST') return next();
    closing.add(uploadId);
    try {
      await settled(uploadId);
      if (ctx.method === 'DELETE') {
        await rm(dir, { recursive: true, force: true });
        ctx.status = 204;
        ctx.body = '';
        return;
      }
      const body = await readBody(ctx.req, MAX_COMPLETE_BODY_BYTES);
      if (body === undefined) return xmlError(ctx, 400, 'MalformedXML', 'The part list is too long.');
      const refusal = await checkPartList(body.toString('utf8'), dir);
      if (refusal) return xmlError(ctx, 400, refusal.code, refusal.message);
      // s3rver's own handler reads the body again.
      ctx.req = Readable.from([body]) as unknown as IncomingMessage;
      return await next();
    } finally {
      closing.delete(uploadId);
    }
  });

  async function createOnly(ctx: S3rverContext, next: () => Promise<void>, bucket: string, key: string) {
    const id = `${bucket}/${key}`;
    if (creating.has(id)) {
      ctx.req.resume();
      return xmlError(ctx, 409, 'ConditionalRequestConflict', 'A conflicting operation is in progress.');
    }
    creating.add(id);
    try {
      if (await store?.existsObject(bucket, key)) {
        ctx.req.resume();
        return xmlError(
          ctx,
          412,
          'PreconditionFailed',
          'At least one of the preconditions you specified did not hold.',
        );
      }
      return await next();
    } finally {
      creating.delete(id);
    }
  }
}

/** s3rver's upload ids: `crypto.randomBytes(16).toString('hex')`. */
const S3RVER_UPLOAD_ID = /^[0-9a-f]{32}$/;
/** S3 bucket names: lower-case letters, digits, dots and hyphens, 3 to 63 of them. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** A CompleteMultipartUpload body of 10,000 parts is about 1 MB. */
const MAX_COMPLETE_BODY_BYTES = 2 * 1024 * 1024;
/** Every part but the last: "Amazon S3 multipart upload limits". */
const MIN_PART_BYTES = 5 * 1024 * 1024;
const PART_WRITE_WAIT_MS = 30_000;

type S3rverContext = {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  headers: Record<string, string | string[] | undefined>;
  req: IncomingMessage;
  status: number;
  type: string;
  body: unknown;
};

function xmlError(ctx: S3rverContext, status: number, code: string, message: string): void {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}

/** `/<bucket>/<key>` of a path-style request, or undefined when either is not one S3 would take. */
function parseTarget(path: string): { bucket: string; key: string } | undefined {
  const [, bucket, ...keyParts] = path.split('/');
  if (!bucket || !BUCKET_NAME.test(bucket) || bucket.includes('..') || keyParts.length === 0) return undefined;
  let key: string;
  try {
    key = decodeURIComponent(keyParts.join('/'));
  } catch {
    return undefined;
  }
  if (key.length === 0 || key.split('/').some((segment) => segment === '.' || segment === '..')) return undefined;
  return { bucket, key };
}

/** `1`..`10000` written plainly, else undefined. */
export function partNumberOf(text: string): number | undefined {
  if (!/^[1-9][0-9]{0,4}$/.test(text)) return undefined;
  const value = Number(text);
  return value <= 10_000 ? value : undefined;
}

async function readBody(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    length += (chunk as Buffer).length;
    if (length > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The refusal S3 would give this part list of the upload in `dir`, or undefined. */
async function checkPartList(xml: string, dir: string): Promise<{ code: string; message: string } | undefined> {
  const parts = [...xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((match) => {
    const inner = match[1] ?? '';
    return {
      number: partNumberOf(/<PartNumber>([^<]*)<\/PartNumber>/.exec(inner)?.[1] ?? ''),
      // S3 compares ETags without their quotes.
      etag: (/<ETag>([^<]*)<\/ETag>/.exec(inner)?.[1] ?? '').replace(/&quot;|"/g, ''),
    };
  });
  if (parts.length === 0 || parts.length > 10_000 || parts.some((part) => part.number === undefined)) {
    return { code: 'MalformedXML', message: 'The XML you provided was not well-formed.' };
  }
  for (let i = 1; i < parts.length; i++) {
    if ((parts[i]?.number as number) <= (parts[i - 1]?.number as number)) {
      return { code: 'InvalidPartOrder', message: 'The list of parts was not in ascending order.' };
    }
  }
  for (const [i, part] of parts.entries()) {
    const file = join(dir, String(part.number));
    const [md5, info] = await Promise.all([
      readFile(`${file}.md5`, 'utf8').catch(() => undefined),
      stat(file).catch(() => undefined),
    ]);
    if (md5 === undefined || info === undefined || md5.trim() !== part.etag) {
      return {
        code: 'InvalidPart',
        message: 'One or more of the specified parts could not be found or its entity tag did not match.',
      };
    }
    if (i < parts.length - 1 && info.size < MIN_PART_BYTES) {
      return { code: 'EntityTooSmall', message: 'Your proposed upload is smaller than the minimum allowed size.' };
    }
  }
  return undefined;
}

async function listParts(ctx: S3rverContext, bucket: string, uploadId: string, dir: string): Promise<void> {
  const parts = (await readdir(dir)).filter((name) => partNumberOf(name) !== undefined).map(Number);
  parts.sort((a, b) => a - b);
  const entries = await Promise.all(
    parts.map(async (part) => {
      const [md5, info] = await Promise.all([
        readFile(join(dir, `${part}.md5`), 'utf8').catch(() => undefined),
        stat(join(dir, String(part))),
      ]);
      // A part still being written has no ETag yet: S3 lists only parts it has.
      return md5 === undefined
        ? ''
        : `<Part><PartNumber>${part}</PartNumber><ETag>"${md5.trim()}"</ETag><Size>${info.size}</Size></Part>`;
    }),
  );
  ctx.status = 200;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?><ListPartsResult><Bucket>${bucket}</Bucket><UploadId>${uploadId}</UploadId><IsTruncated>false</IsTruncated>${entries.join('')}</ListPartsResult>`;
}

/** dynalite storing its tables under `directory`; `port` 0 picks a free one. */
export async function startDynalite(options: { directory: string; port?: number }): Promise<EmbeddedServer> {
  await mkdir(options.directory, { recursive: true });
  const server = dynalite({ path: options.directory, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, LOOPBACK, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${LOOPBACK}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections?.();
      }),
  };
}

export interface LocalStorage {
  s3Endpoint: string;
  dynamoEndpoint: string;
  /** True when at least one of them runs in this process. */
  embedded: boolean;
  /** Stops the embedded servers (not the external ones). */
  close(): Promise<void>;
}

/** The given S3 and DynamoDB endpoints, or embedded servers with their state under `dataDir`. */
export async function startLocalStorage(options: {
  dataDir: string;
  buckets: string[];
  s3Endpoint?: string;
  dynamoEndpoint?: string;
}): Promise<LocalStorage> {
  const started: EmbeddedServer[] = [];
  const close = async () => {
    for (const server of started.reverse()) await server.close();
  };
  const embed = (server: EmbeddedServer): string => {
    started.push(server);
    return server.endpoint;
  };
  try {
    const s3Endpoint =
      options.s3Endpoint ??
      embed(await startS3rver({ directory: join(options.dataDir, 's3'), buckets: options.buckets }));
    const dynamoEndpoint =
      options.dynamoEndpoint ?? embed(await startDynalite({ directory: join(options.dataDir, 'dynamodb') }));
    return { s3Endpoint, dynamoEndpoint, embedded: started.length > 0, close };
  } catch (error) {
    await close();
    throw error;
  }
}
