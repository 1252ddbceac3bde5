/**
 * The API and streamed originals as one Lambda
 * streaming handler: convert the function URL event, route, call the module
 * that owns the behaviour, write the answer. Every failure becomes the JSON error
 * here and nowhere else.
 *
 *   POST   /api/images[?prefix=p/]        new key `<prefix><id>.<ext>`, 201
 *   GET    /api/images[?limit=&prefix=]   NDJSON, one line per image, streamed
 *   GET    /api/images/<key>              metadata, versions, originalUrl
 *   PUT    /api/images/<key>              201 new / 200 replaced (version + 1)
 *   PATCH  /api/images/<key>              {"focalPoint": {x, y} | null}: 200, no new version
 *   DELETE /api/images/<key>              204
 *   POST   /api/uploads                   staged multipart upload: presigned part URLs (staged-uploads.ts)
 *   POST   /api/uploads/<id>/complete     ingest the staged bytes as a PUT would
 *   DELETE /api/uploads/<id>              abort
 *   DELETE /api/derivatives/<key>         purge only: `{key, deleted}` (`edge-resizer purge`)
 *   GET    /originals/<token>             the decrypted original, `Range` supported (also HEAD)
 */
import type { EdgeResizerConfig } from '../core/config.js';
import { busyError, HttpError, invalidParam, toHttpError } from '../core/errors.js';
import { focalPointFromJson, parseFocalPoint } from '../core/focal-point.js';
import { parseImageKey, validateImageKey } from '../core/keys.js';
import { checkOriginalBytes, jsonTooLarge, MAX_JSON_BYTES, originalTooLarge } from '../core/limits.js';
import { createLogger, describeError, type Logger } from '../core/log.js';
import { apiRecord, createMetricsEmitter, type MetricsSink } from '../core/metrics.js';
import { parseUserMeta } from '../core/user-meta.js';
import type { MasterKeyProvider } from '../storage/master-key.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { S3Store } from '../storage/s3-store.js';
import type { StagingStore } from '../storage/staging-store.js';
import { checkBearer, ORIGIN_VERIFY_HEADER } from './auth.js';
import { createKeyLock } from './key-lock.js';
import type { FunctionUrlEvent, StreamingHandler } from './lambda-stream.js';
import { parseListingQuery, streamListing } from './listing.js';
import { ORIGINALS_PATH, originalUrl, serveOriginal } from './originals.js';
import { createReply, type Reply } from './reply.js';
import { checkImageContentType, type RequestBody, requestBody } from './request-body.js';
import { SETTINGS_PATH, serveSettings } from './stage-settings.js';
import {
  abortStagedUpload,
  completeStagedUpload,
  createStagedUpload,
  type StagedUploadDeps,
} from './staged-uploads.js';
import {
  deleteImage,
  describeVersion,
  EXTENSIONS,
  newImageId,
  prepareUpload,
  purgeDerivatives,
  type SavedVersion,
  saveVersion,
  setFocalPoint,
  type UploadDeps,
} from './uploads.js';

export interface ApiDeps {
  config: EdgeResizerConfig;
  store: S3Store;
  metadata: MetadataStore;
  masterKey: MasterKeyProvider;
  /** The bearer token `/api/*` calls must present; read once per container when deployed. */
  apiToken: () => Promise<string>;
  /**
   * Deployed: refuses a request without CloudFront's origin-verify header
   * (auth.ts `createOriginCheck`). Absent locally, where nothing bypasses the CDN.
   */
  checkOrigin?: (presented: string | undefined) => Promise<void>;
  /** @default JSON lines at `info` */
  logger?: Logger;
  /** Invalidates `/<key>*` in front of the derivatives (CloudFront deployed, the edge cache locally). */
  invalidate?: (key: string) => Promise<void>;
  /** The staging bucket of large uploads; without it `/api/uploads` answers 404. */
  staging?: StagingStore;
  /** How long part URLs and upload ids stay valid. @default 1 hour */
  stagedUploadTtlSeconds?: number;
  /**
   * Where each request's metrics line (CloudWatch embedded metric format) goes.
   * @default stdout (console.log) with the default logger; nowhere when a `logger` is given without it
   */
  metrics?: MetricsSink;
}

const IMAGES_PATH = '/api/images';
const UPLOADS_PATH = '/api/uploads';
/** `DELETE /api/derivatives/<key>`: its own prefix, so no image key can be mistaken for it. */
const DERIVATIVES_PATH = '/api/derivatives';
/** POSTed keys get an id of this length plus the longest extension; checked before the body is read. */
const LONGEST_NEW_NAME = `${'x'.repeat(12)}.avif`;
const NEW_KEY_ATTEMPTS = 3;
/** A write of a key queued behind others longer than this is refused as 503 `busy` (with `Retry-After`). */
const KEY_WRITE_MAX_WAIT_MS = 15_000;

interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Lower-case names, no prototype: a header a client named `__proto__` is just a name. */
  headers: Record<string, string | undefined>;
  /** Read only after authentication, and never past a route's limit. */
  body: RequestBody;
}

export function createApiHandler(deps: ApiDeps): StreamingHandler {
  const logger = deps.logger ?? createLogger('info');
  const uploads: UploadDeps = { ...deps, logger, keyLock: createKeyLock(KEY_WRITE_MAX_WAIT_MS) };
  const emitMetrics = createMetricsEmitter(deps.metrics ?? (deps.logger ? () => {} : undefined));

  return async (event, responseStream) => {
    const startedAt = performance.now();
    let errorCode: string | undefined;
    const reply = createReply(responseStream);
    const request = toApiRequest(event);
    try {
      await route(request, reply);
    } catch (error) {
      const httpError = toHttpError(error);
      errorCode = httpError.code;
      if (httpError.status >= 500) {
        logger.error('api request failed', {
          method: request.method,
          path: request.path,
          status: httpError.status,
          ...describeError(error),
        });
      }
      if (reply.started) return reply.abort();
      await reply.error(httpError).catch(() => reply.abort());
    } finally {
      emitMetrics(apiRecord(deps.config.stage, { durationMs: performance.now() - startedAt, errorCode }));
    }
  };

  async function route(request: ApiRequest, reply: Reply): Promise<void> {
    const { method, path } = request;
    await deps.checkOrigin?.(request.headers[ORIGIN_VERIFY_HEADER]);
    if (path.startsWith(ORIGINALS_PATH)) {
      allow(method, ['GET', 'HEAD']);
      const token = path.slice(ORIGINALS_PATH.length);
      return serveOriginal(deps, reply, { token, method, range: request.headers.range });
    }
    if (path !== '/api' && !path.startsWith('/api/')) throw new HttpError('not_found', 'Not found');

    checkBearer(request.headers.authorization, await deps.apiToken());

    if (path === SETTINGS_PATH) return serveSettings(deps.config, method, reply);
    if (path === IMAGES_PATH) {
      allow(method, ['GET', 'POST']);
      if (method === 'GET') return streamListing(deps.metadata, reply, parseListingQuery(request.query));
      return upload(request, reply, undefined);
    }
    if (path === UPLOADS_PATH || path.startsWith(`${UPLOADS_PATH}/`)) return stagedUpload(request, reply);
    if (path.startsWith(`${DERIVATIVES_PATH}/`)) {
      allow(method, ['DELETE']);
      const key = parseImageKey(path.slice(DERIVATIVES_PATH.length + 1));
      const deleted = await purgeDerivatives(deps, key);
      return reply.json(200, { key, deleted });
    }
    if (path.startsWith(`${IMAGES_PATH}/`)) {
      const rest = path.slice(IMAGES_PATH.length + 1);
      const key = parseImageKey(rest);
      allow(method, ['GET', 'PUT', 'PATCH', 'DELETE']);
      if (method === 'GET') return describeImage(key, reply);
      if (method === 'PUT') return upload(request, reply, key);
      if (method === 'PATCH') return patchImage(request, reply, key);
      if (!(await deleteImage(uploads, key))) throw new HttpError('not_found', 'No such image');
      return reply.empty(204);
    }
    throw new HttpError('not_found', 'Not found');
  }

  /** POST (key undefined: a new id) and PUT. Everything is checked before anything is stored. */
  async function upload(request: ApiRequest, reply: Reply, key: string | undefined): Promise<void> {
    const prefix = request.query.get('prefix') ?? '';
    if (key === undefined) validateImageKey(`${prefix}${LONGEST_NEW_NAME}`);
    const meta = parseUserMeta(request.headers);
    const focalHeader = request.headers['x-focal-point'];
    const focalPoint = focalHeader === undefined ? undefined : parseFocalPoint(focalHeader);
    checkImageContentType(request.headers['content-type']);
    const declared = Number(request.headers['content-length']);
    // Refused on the declared length, before the body is decoded or looked at.
    if (Number.isFinite(declared)) checkOriginalBytes(declared, deps.config);
    const body = await request.body.read(deps.config.limits.maxOriginalBytes, () => originalTooLarge(deps.config));
    const prepared = await prepareUpload(body, meta, deps.config, focalPoint);

    let saved: SavedVersion | undefined;
    if (key !== undefined) {
      saved = await saveVersion(uploads, key, prepared);
    } else {
      const extension = EXTENSIONS[prepared.info.format] ?? prepared.info.format;
      for (let attempt = 0; attempt < NEW_KEY_ATTEMPTS && !saved; attempt += 1) {
        const newKey = `${prefix}${newImageId()}.${extension}`;
        validateImageKey(newKey);
        saved = await saveVersion(uploads, newKey, prepared, { onlyIfNew: true });
      }
    }
    if (!saved) throw busyError('Could not find a free key; try again');
    await reply.json(saved.created ? 201 : 200, describeVersion(saved.item), {
      Location: `${IMAGES_PATH}/${saved.item.key}`,
    });
  }

  /** `/api/uploads…`: see staged-uploads.ts. */
  async function stagedUpload(request: ApiRequest, reply: Reply): Promise<void> {
    const { method, path } = request;
    if (!deps.staging) throw new HttpError('not_found', 'Staged uploads are not configured here');
    const staged: StagedUploadDeps = { ...uploads, staging: deps.staging };
    if (path === UPLOADS_PATH) {
      allow(method, ['POST']);
      const body = parseJsonObject(await request.body.read(MAX_JSON_BYTES, () => jsonTooLarge()));
      return reply.json(201, await createStagedUpload(staged, body));
    }
    const rest = path.slice(UPLOADS_PATH.length + 1);
    const complete = /^([A-Za-z0-9_-]+)\/complete$/.exec(rest);
    if (complete) {
      allow(method, ['POST']);
      const body = parseJsonObject(await request.body.read(MAX_JSON_BYTES, () => jsonTooLarge()));
      const saved = await completeStagedUpload(staged, complete[1] ?? '', body);
      return reply.json(saved.created ? 201 : 200, describeVersion(saved.item), {
        Location: `${IMAGES_PATH}/${saved.item.key}`,
      });
    }
    if (/^[A-Za-z0-9_-]+$/.test(rest)) {
      allow(method, ['DELETE']);
      await abortStagedUpload(staged, rest);
      return reply.empty(204);
    }
    throw new HttpError('not_found', 'Not found');
  }

  /** `PATCH /api/images/<key>`: `{"focalPoint": {"x", "y"} | null}`, nothing else. */
  async function patchImage(request: ApiRequest, reply: Reply, key: string): Promise<void> {
    const text = await request.body.read(MAX_JSON_BYTES, () => jsonTooLarge());
    const body = parseJsonObject(text);
    const unknown = Object.keys(body).filter((name) => name !== 'focalPoint');
    if (unknown.length > 0 || !Object.hasOwn(body, 'focalPoint')) {
      throw invalidParam('the PATCH body', 'an object with focalPoint only', text.toString('utf8'));
    }
    const item = await setFocalPoint(uploads, key, focalPointFromJson(body.focalPoint));
    if (!item) throw new HttpError('not_found', 'No such image');
    await reply.json(200, describeVersion(item));
  }

  async function describeImage(key: string, reply: Reply): Promise<void> {
    const versions = await deps.metadata.versions(key);
    const latest = versions.at(-1);
    if (!latest) throw new HttpError('not_found', 'No such image');
    await reply.json(200, {
      ...describeVersion(latest),
      originalUrl: await originalUrl(deps.masterKey, latest),
      versions: await Promise.all(
        versions.map(async (item) => ({
          version: item.version,
          bytes: item.bytes,
          sha256: item.sha256,
          created: item.created,
          contentType: item.contentType,
          width: item.width,
          height: item.height,
          originalUrl: await originalUrl(deps.masterKey, item),
        })),
      ),
    });
  }
}

function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) {
    throw new HttpError('method_not_allowed', `Expected ${methods.join(', ')} but received ${method}`, {
      headers: { Allow: methods.join(', ') },
    });
  }
}

/** A JSON object, its names only ever read as own properties. */
function parseJsonObject(text: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text.toString('utf8'));
  } catch {
    throw invalidParam('the request body', 'a JSON object', text.toString('utf8'));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidParam('the request body', 'a JSON object', text.toString('utf8'));
  }
  return value as Record<string, unknown>;
}

function toApiRequest(event: FunctionUrlEvent): ApiRequest {
  const headers: Record<string, string | undefined> = Object.create(null);
  // Function URLs lower-case header names already; a hand-made event may not.
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  return {
    method: event.requestContext.http.method.toUpperCase(),
    path: event.rawPath,
    query: new URLSearchParams(event.rawQueryString ?? ''),
    headers,
    body: requestBody(event),
  };
}
