/**
 * Who may call the API. Deployed, first the origin-verify header: only
 * CloudFront's requests carry it. Then bearer authentication of `/api/*`:
 * no token → 401 with
 * `WWW-Authenticate: Bearer`, a wrong one → 403. Tokens are compared as
 * SHA-256 digests with `timingSafeEqual`: equal lengths whatever was sent,
 * and no early exit that would leak how much of a guess was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from '../core/errors.js';

export const WWW_AUTHENTICATE = 'Bearer realm="edge-resizer"';

export function checkBearer(authorization: string | undefined, expected: string): void {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
  if (!match) {
    throw new HttpError('unauthorized', 'This API needs an Authorization: Bearer <API token> header', {
      headers: { 'WWW-Authenticate': WWW_AUTHENTICATE },
    });
  }
  // An empty configured token would otherwise match nothing forever, silently.
  if (expected.length === 0) throw new HttpError('internal_error', 'The API token is not configured');
  if (!timingSafeEqual(digest(match[1] ?? ''), digest(expected))) {
    throw new HttpError('forbidden', 'The API token is not valid');
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * The secret header CloudFront adds to every request it sends to the API's
 * origin (resources/cdn.yml): the function URL is public, and without this
 * check anyone who learns it could bypass the distribution.
 */
export const ORIGIN_VERIFY_HEADER = 'x-origin-verify';
/** A mismatch re-reads the expected value at most this often, so a rotation is picked up without a flood of reads. */
export const ORIGIN_VERIFY_REFRESH_MS = 60_000;

export interface OriginCheckOptions {
  /** @default ORIGIN_VERIFY_REFRESH_MS */
  refreshAfterMs?: number;
  now?: () => number;
}

/**
 * Checks `X-Origin-Verify` against the value `read` loads (deployed: the SSM
 * parameter the stack writes). The value is kept; a request that does not
 * match reloads it first if it is older than `refreshAfterMs` (the secret
 * may have been rotated), then is refused with 403 `forbidden`.
 */
export function createOriginCheck(
  read: () => Promise<string>,
  options: OriginCheckOptions = {},
): (presented: string | undefined) => Promise<void> {
  const refreshAfterMs = options.refreshAfterMs ?? ORIGIN_VERIFY_REFRESH_MS;
  const now = options.now ?? Date.now;
  let current: { digest: Buffer; at: number } | undefined;
  let loading: Promise<{ digest: Buffer; at: number }> | undefined;
  const load = () => {
    loading ??= read()
      .then((value) => {
        const trimmed = value.trim();
        if (!trimmed) throw new Error('the origin-verify value is empty');
        current = { digest: digest(trimmed), at: now() };
        return current;
      })
      .catch((error: unknown) => {
        throw new HttpError('storage_error', 'A configuration secret is unavailable', { cause: error });
      })
      .finally(() => {
        loading = undefined;
      });
    return loading;
  };
  return async (presented) => {
    const given = digest(presented ?? '');
    let expected = current ?? (await load());
    if (timingSafeEqual(given, expected.digest)) return;
    if (now() - expected.at >= refreshAfterMs) {
      expected = await load();
      if (timingSafeEqual(given, expected.digest)) return;
    }
    throw new HttpError('forbidden', 'This API answers only through its CloudFront distribution');
  };
}
