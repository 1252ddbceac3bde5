/**
 * Signed image URLs, the signing side. Verification runs in
 * the viewer-request CloudFront Function (`src/edge/viewer/handler.ts`), which
 * cannot bundle node's crypto; both build the message with `signing-message.ts`.
 * sig = unpadded base64url of HMAC-SHA256(secret, message).
 */
import { createHmac } from 'node:crypto';
import { HttpError } from './errors.js';
import { rfc3986, signedMessage } from './signing-message.js';

export { rfc3986 } from './signing-message.js';

/** The canonical message for decoded `params` (without `sig`). */
export function signatureMessage(path: string, params: ReadonlyArray<readonly [string, string]>): string {
  const names = params.map(([name]) => name);
  if (new Set(names).size !== names.length) throw new HttpError('invalid_param', 'A parameter is given more than once');
  return signedMessage(path, params);
}

export function computeSignature(secret: string, message: string): string {
  return createHmac('sha256', secret).update(message).digest('base64url');
}

/**
 * Appends `exp` and `sig` to a URL (absolute or a path). `expires` is `30s`,
 * `15m`, `1h`, `7d` or an absolute unix time. `kid` names the signing key
 * (signed like every parameter); without it the key is `default`.
 */
export function signUrl(
  url: string,
  secret: string,
  expires: string,
  nowSeconds = Math.floor(Date.now() / 1000),
  kid?: string,
): string {
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(url);
  const parsed = new URL(url, 'http://signing.invalid');
  const params = [...parsed.searchParams].filter(
    ([name]) => name !== 'sig' && name !== 'exp' && (kid === undefined || name !== 'kid'),
  );
  if (kid !== undefined) params.push(['kid', kid]);
  params.push(['exp', String(parseExpiry(expires, nowSeconds))]);
  const sig = computeSignature(secret, signatureMessage(parsed.pathname, params));
  const query = [...params, ['sig', sig] as const].map(([n, v]) => `${rfc3986(n)}=${rfc3986(v)}`).join('&');
  const path = `${parsed.pathname}?${query}`;
  return absolute ? `${parsed.origin}${path}` : path;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `30s`/`15m`/`1h`/`7d` from now, or an absolute unix time (10 digits). */
export function parseExpiry(expires: string, nowSeconds: number): number {
  const relative = /^(\d+)([smhd])$/.exec(expires);
  if (relative) return nowSeconds + Number(relative[1]) * (UNIT_SECONDS[relative[2] as string] as number);
  if (/^\d{9,11}$/.test(expires)) return Number(expires);
  throw new HttpError(
    'invalid_param',
    `Expected --expires like 30s, 15m, 1h, 7d or a unix time but received '${expires}'`,
  );
}
