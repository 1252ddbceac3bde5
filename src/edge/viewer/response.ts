/**
 * What the viewer function answers and the runtime pieces it is handed, apart
 * from the handler so that the signature check (signature.ts) and the handler
 * share them without importing each other.
 */
export interface CfValue {
  value: string;
  multiValue?: CfValue[];
}

export interface CfResponse {
  statusCode: number;
  statusDescription: string;
  headers: Record<string, CfValue>;
  body: { encoding: 'text'; data: string };
}

/** The part of CloudFront Functions' `crypto` module we use. */
export interface HmacModule {
  createHmac(algorithm: 'sha256', key: string): { update(data: string): { digest(encoding: 'base64'): string } };
}

/** What the handler answers when it needs a signing key from the KeyValueStore first (see build.ts's last line). */
export interface KeyLookup {
  kid: string;
}

export function error(status: 400 | 403, code: string, message: string): CfResponse {
  return {
    statusCode: status,
    statusDescription: status === 400 ? 'Bad Request' : 'Forbidden',
    headers: { 'content-type': { value: 'application/json' }, 'cache-control': { value: 'no-store' } },
    body: { encoding: 'text', data: JSON.stringify({ status: status, code: code, message: message }) },
  };
}
