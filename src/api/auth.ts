/**
 * Bearer authentication of `/api/*` (CONTRACT.md §7): no token → 401 with
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
