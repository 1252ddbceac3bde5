/**
 * `GET /originals/<token>`: the decrypted original, streamed
 * from S3 through the decipher into the response in constant memory, whole or
 * one `Range`. The sealed token authorizes without a lookup; one metadata read
 * then finds the version's object and its content type.
 */
import type { Transform } from 'node:stream';
import { createDecryptStream, plaintextLength, planRangeDecrypt } from '../core/envelope.js';
import { HttpError } from '../core/errors.js';
import { contentRange, resolveRange } from '../core/range.js';
import { deriveTokenKey, ORIGINAL_URL_TTL_SECONDS, openToken, sealToken } from '../core/tokens.js';
import type { MasterKeyProvider } from '../storage/master-key.js';
import type { ImageVersion, MetadataStore } from '../storage/metadata-store.js';
import type { S3Store } from '../storage/s3-store.js';
import type { Reply } from './reply.js';

export const ORIGINALS_PATH = '/originals/';
/** A token link is a credential: keep it and its bytes out of shared caches and history. */
const ORIGINAL_CACHE_CONTROL = 'private, no-store';

export interface OriginalsDeps {
  store: S3Store;
  metadata: MetadataStore;
  masterKey: MasterKeyProvider;
}

/** `/originals/<token>` for one stored version (and no other bytes), valid `ttlSeconds` from now. */
export async function originalUrl(
  masterKey: MasterKeyProvider,
  item: Pick<ImageVersion, 'key' | 'version' | 'objectKey'>,
  ttlSeconds = ORIGINAL_URL_TTL_SECONDS,
): Promise<string> {
  const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
  const token = { key: item.key, version: item.version, id: versionIdentity(item), exp };
  return `${ORIGINALS_PATH}${sealToken(token, deriveTokenKey(await masterKey()))}`;
}

/** What a token binds to: the random id of the version's object, fresh per upload (`_versions/<key>/<id>`). */
export function versionIdentity(item: Pick<ImageVersion, 'objectKey'>): string {
  return item.objectKey.slice(item.objectKey.lastIndexOf('/') + 1);
}

export async function serveOriginal(
  deps: OriginalsDeps,
  reply: Reply,
  request: { token: string; method: string; range: string | undefined },
): Promise<void> {
  const masterKey = await deps.masterKey();
  const token = openToken(request.token, deriveTokenKey(masterKey));
  const item = await deps.metadata.version(token.key, token.version);
  // The key was deleted and uploaded again: its version of that number holds other bytes.
  if (!item || versionIdentity(item) !== token.id) throw notFound();
  const headers = baseHeaders(item);

  if (request.method === 'HEAD' || request.range !== undefined) {
    const head = await deps.store.headOriginal(item.objectKey);
    if (!head) throw notFound();
    const size = plaintextLength(head.metadata, head.length);
    if (request.method === 'HEAD') return reply.empty(200, { ...headers, 'Content-Length': String(size) });

    const resolution = resolveRange(request.range, size);
    if (resolution.type === 'unsatisfiable') {
      return reply.error(
        new HttpError('range_not_satisfiable', `The original has ${size} bytes; no byte of the range is in it`),
        {
          'Content-Range': contentRange(undefined, size),
        },
      );
    }
    if (resolution.type === 'partial') {
      const { start, end } = resolution.range;
      // Only the cipher blocks holding the range are fetched: a range is cheap whatever the size.
      const plan = planRangeDecrypt(head.metadata, masterKey, start, end);
      const stored = await deps.store.getOriginalStream(item.objectKey, {
        start: plan.storedStart,
        end: plan.storedEnd,
      });
      if (!stored) throw notFound();
      return reply.stream(
        206,
        {
          ...headers,
          'Content-Length': String(end - start + 1),
          'Content-Range': contentRange(resolution.range, size),
        },
        stored.stream,
        plan.stream,
      );
    }
  }

  const stored = await deps.store.getOriginalStream(item.objectKey);
  if (!stored) throw notFound();
  let decrypt: Transform;
  try {
    decrypt = createDecryptStream(stored.metadata, masterKey);
  } catch (error) {
    stored.stream.destroy();
    throw error;
  }
  const size = plaintextLength(stored.metadata, stored.totalLength);
  // The decrypt stream withholds its last plaintext until the tag verifies: a tampered object is cut short.
  await reply.stream(200, { ...headers, 'Content-Length': String(size) }, stored.stream, decrypt);
}

function baseHeaders(item: ImageVersion): Record<string, string> {
  const filename = item.key.slice(item.key.lastIndexOf('/') + 1);
  return {
    'Content-Type': item.contentType,
    'Accept-Ranges': 'bytes',
    'Cache-Control': ORIGINAL_CACHE_CONTROL,
    ETag: `"${item.sha256}"`,
    // Keys are [A-Za-z0-9._-/] only: the name needs no quoting beyond the quotes.
    'Content-Disposition': `inline; filename="${filename}"`,
  };
}

function notFound(): HttpError {
  return new HttpError('not_found', 'No such original');
}
