/**
 * The embedded S3- and DynamoDB-compatible servers (s3rver, dynalite) that the
 * local CDN and the tests run on loopback, with their state on disk.
 */

import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
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
  completeMultipartSupport(server);
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
 * s3rver implements CreateMultipartUpload, UploadPart and CompleteMultipartUpload
 * but not AbortMultipartUpload or ListParts, and it accepts a part for an upload
 * that does not exist (it creates the directory). Staged uploads (CONTRACT.md §7)
 * need all three to behave as on S3, so a middleware in front of s3rver's routes
 * answers them from s3rver's own upload directory (`<bucket>/._S3rver_uploads/<id>`).
 */
function completeMultipartSupport(server: S3rver): void {
  type Ctx = {
    method: string;
    path: string;
    query: Record<string, string | string[] | undefined>;
    status: number;
    type: string;
    body: unknown;
  };
  const app = server as unknown as {
    middleware: ((ctx: Ctx, next: () => Promise<void>) => Promise<void>)[];
    store?: { getResourcePath(bucket: string, key: string | undefined, resource: string): string };
  };
  const store = app.store;
  if (!store || !Array.isArray(app.middleware)) return;
  const xmlError = (ctx: Ctx, status: number, code: string, message: string) => {
    ctx.status = status;
    ctx.type = 'application/xml';
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  };
  app.middleware.unshift(async (ctx, next) => {
    const uploadId = typeof ctx.query.uploadId === 'string' ? ctx.query.uploadId : undefined;
    const [, bucket, ...keyParts] = ctx.path.split('/');
    if (!uploadId || !bucket || keyParts.length === 0 || !/^[A-Za-z0-9]+$/.test(uploadId)) return next();
    const dir = join(store.getResourcePath(bucket, undefined, 'uploads'), uploadId);
    const exists = await stat(dir).then(
      () => true,
      () => false,
    );
    if (!exists) return xmlError(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist.');
    if (ctx.method === 'DELETE') {
      await rm(dir, { recursive: true, force: true });
      ctx.status = 204;
      ctx.body = '';
      return;
    }
    if (ctx.method === 'GET') {
      const parts = (await readdir(dir)).filter((name) => /^\d+$/.test(name)).map(Number);
      parts.sort((a, b) => a - b);
      const entries = await Promise.all(
        parts.map(async (part) => {
          const [md5, info] = await Promise.all([
            readFile(join(dir, `${part}.md5`), 'utf8'),
            stat(join(dir, String(part))),
          ]);
          return `<Part><PartNumber>${part}</PartNumber><ETag>"${md5.trim()}"</ETag><Size>${info.size}</Size></Part>`;
        }),
      );
      ctx.status = 200;
      ctx.type = 'application/xml';
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?><ListPartsResult><Bucket>${bucket}</Bucket><UploadId>${uploadId}</UploadId><IsTruncated>false</IsTruncated>${entries.join('')}</ListPartsResult>`;
      return;
    }
    return next();
  });
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
