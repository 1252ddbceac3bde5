/**
 * The message a URL signature covers, for both sides: the
 * signer (`signing.ts`, node's crypto) and the verifier, the viewer-request
 * CloudFront Function (`src/edge/viewer/handler.ts`). Imports nothing and
 * written for CloudFront Functions' runtime.
 *
 * message = path as received (leading `/`, still percent-encoded) + `?` +
 * every parameter but `sig`, `exp` included, as `name=value` with RFC 3986
 * percent-encoding, sorted by name, joined by `&`.
 */

/** RFC 3986 unreserved characters stay; everything else is %XX (upper case). */
export function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** The message for decoded `pairs` (without `sig`), whose names the caller has checked are unique. */
export function signedMessage(path: string, pairs: ReadonlyArray<readonly [string, string]>): string {
  const sorted = pairs.slice().sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const pair = sorted[i] as readonly [string, string];
    parts.push(rfc3986(pair[0]) + '=' + rfc3986(pair[1]));
  }
  return path + '?' + parts.join('&');
}
