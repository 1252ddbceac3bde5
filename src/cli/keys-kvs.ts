/**
 * `edge-resizer keys add|list|retire --kvs-arn ARN` (or `SIGNING_KEYS_KVS_ARN`):
 * the deployed signing keys, in the stack's CloudFront
 * KeyValueStore (output `SigningKeyStoreArn`), which the viewer function reads
 * per request. The store holds `<kid>` → secret; a retired key's value is the
 * empty string, never a deleted key: a missing `default` would fall back to
 * the baked `SIGNING_SECRET`, so retiring `default` must leave `""` behind.
 *
 * Every write is conditional on the store's version: `DescribeKeyValueStore`
 * gives its ETag, the check (does the kid exist? is it retired?) reads the
 * store after that, and `PutKey` carries the ETag as `If-Match`. A concurrent
 * writer in between makes the service answer 409 (412 is handled alike), and
 * the whole read-check-write runs again, a few times at most.
 *
 * The KeyValueStore API signs with SigV4A (endpoint rules: `sigv4a`, region
 * set `*`); the JS SDK carries no SigV4A signer of its own and needs
 * `@aws-sdk/signature-v4a` (pure JS) or `@aws-sdk/signature-v4-crt` (native)
 * loaded first. Without either, the deployed commands stop with one line
 * naming the package, before any request.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import {
  CloudFrontKeyValueStoreClient,
  type CloudFrontKeyValueStoreClientConfig,
  DescribeKeyValueStoreCommand,
  GetKeyCommand,
  ListKeysCommand,
  PutKeyCommand,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import { CliError, EXIT, env } from './common.js';

export const SIGV4A_PACKAGE = '@aws-sdk/signature-v4a';
export const SIGV4A_PACKAGE_VERSION = '3.1138.0';
const CRT_PACKAGE = '@aws-sdk/signature-v4-crt';
export const KVS_ARN_ENV = 'SIGNING_KEYS_KVS_ARN';
/** `arn:aws:cloudfront::<account>:key-value-store/<id>` (the stack's `SigningKeyStoreArn`). */
const KVS_ARN = /^arn:aws[a-z-]*:cloudfront::\d{12}:key-value-store\/[A-Za-z0-9-]{1,64}$/;
/** Read-check-write rounds before giving up on a store others keep changing. */
export const WRITE_ATTEMPTS = 5;

export interface KvsStore {
  arn: string;
  client: CloudFrontKeyValueStoreClient;
}

/** The ARN of `--kvs-arn`, else `SIGNING_KEYS_KVS_ARN`; undefined means local mode. */
export function kvsArnOf(option: string | undefined): string | undefined {
  const arn = option || env(KVS_ARN_ENV);
  if (arn === undefined) return undefined;
  if (!KVS_ARN.test(arn)) {
    throw new CliError(
      `--kvs-arn (or ${KVS_ARN_ENV}) takes the stack output SigningKeyStoreArn, arn:aws:cloudfront::<account>:key-value-store/<id>, not '${arn}'`,
      EXIT.usage,
    );
  }
  return arn;
}

/** Loads a SigV4A signer into the SDK (it registers itself), or says which package to install. */
export function loadSigV4a(resolveFrom: string = import.meta.url): void {
  const require = createRequire(resolveFrom);
  for (const name of [SIGV4A_PACKAGE, CRT_PACKAGE]) {
    try {
      require(name);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') throw error;
    }
  }
  throw new CliError(
    `Deployed keys need ${SIGV4A_PACKAGE} (the KeyValueStore API signs with SigV4A): npm install ${SIGV4A_PACKAGE}@${SIGV4A_PACKAGE_VERSION}`,
  );
}

/**
 * The store's client: credentials and endpoint the SDK's usual way (an
 * endpoint override is `AWS_ENDPOINT_URL_CLOUDFRONT_KEYVALUESTORE`). `config`
 * is for tests, which may bring their own signer; without one, SigV4A must load.
 */
export function openKvsStore(arn: string, config: CloudFrontKeyValueStoreClientConfig = {}): KvsStore {
  if (config.signer === undefined) loadSigV4a();
  const client = new CloudFrontKeyValueStoreClient({
    region: env('AWS_REGION') ?? 'us-east-1',
    ...config,
  });
  return { arn, client };
}

function isConflict(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return (
    e?.name === 'ConflictException' || e?.$metadata?.httpStatusCode === 409 || e?.$metadata?.httpStatusCode === 412
  );
}

function isNotFound(error: unknown): boolean {
  return (error as { name?: string })?.name === 'ResourceNotFoundException';
}

/** An SDK failure as the CLI's one line. */
function storeError(store: KvsStore, error: unknown): CliError {
  if (error instanceof CliError) return error;
  const e = error as { name?: string; message?: string };
  return new CliError(`KeyValueStore ${store.arn}: ${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`);
}

/** The kid's value, or undefined when the store has no such key. */
async function getValue(store: KvsStore, kid: string): Promise<string | undefined> {
  try {
    const found = await store.client.send(new GetKeyCommand({ KvsARN: store.arn, Key: kid }));
    return found.Value ?? '';
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Runs `decide` against the store as of one ETag and writes what it returns
 * with `If-Match` that ETag; on a conflict, reads and decides again.
 * `decide` returns the value to put, or undefined for no write.
 */
async function conditionalPut(
  store: KvsStore,
  kid: string,
  decide: (current: string | undefined) => string | undefined,
): Promise<{ written: boolean; attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const described = await store.client.send(new DescribeKeyValueStoreCommand({ KvsARN: store.arn }));
      if (!described.ETag) throw new CliError(`KeyValueStore ${store.arn} answered no ETag`);
      const value = decide(await getValue(store, kid));
      if (value === undefined) return { written: false, attempts: attempt };
      await store.client.send(
        new PutKeyCommand({ KvsARN: store.arn, Key: kid, Value: value, IfMatch: described.ETag }),
      );
      return { written: true, attempts: attempt };
    } catch (error) {
      if (isConflict(error) && attempt < WRITE_ATTEMPTS) continue;
      if (isConflict(error)) {
        throw new CliError(
          `KeyValueStore ${store.arn} kept changing under ${WRITE_ATTEMPTS} conditional writes of ${kid}: try again`,
        );
      }
      throw storeError(store, error);
    }
  }
}

export interface KvsKeyLine {
  kid: string;
  status: 'active' | 'retired';
}

/** Adds a new key (never reusing a kid, retired or not); the secret is returned once. */
export async function kvsKeysAdd(
  store: KvsStore,
  kid: string,
): Promise<{ kid: string; secret: string; created: string; attempts: number }> {
  const secret = randomBytes(32).toString('base64url');
  const { attempts } = await conditionalPut(store, kid, (current) => {
    if (current !== undefined) {
      throw new CliError(
        `The signing key ${kid} exists${current === '' ? ' (retired)' : ''} in ${store.arn}: a kid is never reused, pick another`,
      );
    }
    return secret;
  });
  return { kid, secret, created: new Date().toISOString(), attempts };
}

/** Every key's kid and status, sorted; never a secret. */
export async function kvsKeysList(store: KvsStore): Promise<KvsKeyLine[]> {
  const lines: KvsKeyLine[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await store.client.send(new ListKeysCommand({ KvsARN: store.arn, NextToken: token }));
      for (const item of page.Items ?? []) {
        if (item.Key === undefined) continue;
        lines.push({ kid: item.Key, status: item.Value === '' ? 'retired' : 'active' });
      }
      token = page.NextToken || undefined;
    } while (token !== undefined);
  } catch (error) {
    throw storeError(store, error);
  }
  return lines.sort((a, b) => a.kid.localeCompare(b.kid));
}

/**
 * Sets the key's value to `""`: the viewer function refuses its URLs at once.
 * `default` may be absent from the store (the baked `SIGNING_SECRET` stands in):
 * retiring it writes `""` all the same, which shuts the baked secret out.
 */
export async function kvsKeysRetire(store: KvsStore, kid: string): Promise<{ kid: string; written: boolean }> {
  const { written } = await conditionalPut(store, kid, (current) => {
    if (current === undefined && kid !== 'default') throw new CliError(`No signing key ${kid} in ${store.arn}`);
    return current === '' ? undefined : '';
  });
  return { kid, written };
}
