/**
 * Signed URLs at the edge: the viewer function's check of `sig`, `exp` and
 * `kid`, bundled only into a stage with signing on (`StageRules` in
 * handler.ts). Written for CloudFront Functions' runtime like `param-rules.ts`.
 */
import { paramsByName } from '../../core/param-rules.js';
import { signedMessage } from '../../core/signing-message.js';
import type { ViewerConfig } from './config.js';
import { type CfResponse, error, type HmacModule, type KeyLookup } from './response.js';

/** What `checkSignedUrl` is, for the handler's `StageRules`. */
export type SignedUrlCheck = (
  uri: string,
  pairs: Array<[string, string]>,
  stored: string | null | undefined,
  config: ViewerConfig,
  crypto: HmacModule,
) => CfResponse | KeyLookup | null;

/** A `kid` as a KeyValueStore key: short and plain. */
const KID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Null when the URL is signed by a live key and not expired; else the 403 (a
 * repeated parameter throws the 400 `ParamError`: ambiguous for the signature
 * too), or, with the KeyValueStore and no `stored` value yet, the `kid` to look up.
 */
export function checkSignedUrl(
  uri: string,
  pairs: Array<[string, string]>,
  stored: string | null | undefined,
  config: ViewerConfig,
  crypto: HmacModule,
): CfResponse | KeyLookup | null {
  const seen = paramsByName(pairs, null);
  const kid = seen.kid == null ? 'default' : seen.kid;
  let secret = config.signingSecret;
  if (config.keyValueStore) {
    if (!KID.test(kid)) return unsigned('Unknown signing key');
    if (stored === undefined) return { kid };
    secret = stored === null ? (kid === 'default' ? config.signingSecret : '') : stored;
  } else if (kid !== 'default') secret = '';
  if (!secret) return unsigned('Unknown or retired signing key');
  return checkSignature(uri, pairs, secret, crypto);
}

/** The signed message (`src/core/signing-message.ts`), checked on the path as received and the decoded parameters. */
function checkSignature(
  uri: string,
  pairs: Array<[string, string]>,
  secret: string,
  crypto: HmacModule,
): CfResponse | null {
  let sig: string | undefined;
  let exp: string | undefined;
  const signed: Array<[string, string]> = [];
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i] as [string, string];
    if (pair[0] === 'sig') sig = pair[1];
    else signed.push(pair);
    if (pair[0] === 'exp') exp = pair[1];
  }
  if (sig == null || exp == null) return unsigned('This URL is not signed');
  if (!/^\d+$/.test(exp)) return unsigned('This URL has a malformed expiry');
  // Names are unique here (checked before).
  const expected = crypto
    .createHmac('sha256', secret)
    .update(signedMessage(uri, signed))
    .digest('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  if (!constantTimeEqual(expected, sig)) return unsigned('The URL signature does not match');
  if (Number(exp) < Math.floor(Date.now() / 1000)) return error(403, 'expired', 'This URL has expired');
  return null;
}

// Compares every character whatever the first difference, so timing tells nothing.
function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i % (b.length || 1));
  return diff === 0;
}

/** 403 `invalid_signature`: the URL's signature cannot be checked or does not match. */
function unsigned(message: string): CfResponse {
  return error(403, 'invalid_signature', message);
}
