/**
 * `edge-resizer keys add|list|retire [--kid K]`: the signing keys of signed URLs.
 * Locally they live in the data dir's `signing-keys.json`, which the local CDN's
 * viewer function re-reads when it changes (the deployed KeyValueStore's stand-in):
 *
 *     { "keys": { "<kid>": { "secret": "…", "created": "<ISO 8601>", "retired"?: "<ISO 8601>" } } }
 *
 * The file holds secrets: it is written with mode 0600, atomically (a temporary
 * file renamed over it), so the server never reads half a file.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSigningKeys } from '../local/secrets.js';
import { CliError, EXIT } from './common.js';
import { type KvsStore, kvsArnOf, kvsKeysAdd, kvsKeysList, kvsKeysRetire, openKvsStore } from './keys-kvs.js';

export const SIGNING_KEYS_FILE = 'signing-keys.json';
/** A `kid` the viewer function accepts. */
const KID = /^[A-Za-z0-9_-]{1,64}$/;
/** The key of URLs signed without a `kid`: SIGNING_SECRET, unless the file has its own entry. */
const DEFAULT_KID = 'default';

interface KeyEntry {
  secret: string;
  created: string;
  retired?: string;
}
type KeyMap = Record<string, KeyEntry>;

export interface KeysOptions {
  kid?: string;
  dataDir: string;
  /** Deployed: the stack's KeyValueStore (`--kvs-arn`, else `SIGNING_KEYS_KVS_ARN`) instead of the data dir. */
  kvsArn?: string;
}

/** The deployed store when `--kvs-arn`/`SIGNING_KEYS_KVS_ARN` names one. */
function deployedStore(options: KeysOptions): KvsStore | undefined {
  const arn = kvsArnOf(options.kvsArn);
  return arn === undefined ? undefined : openKvsStore(arn);
}

const newKid = () => `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`;

const addedNote = (kid: string, where: string) =>
  `Added signing key ${kid} to ${where}; its secret is printed once, above. Sign with: edge-resizer sign <url> --kid ${kid}\n`;

const keysPath = (dataDir: string) => join(dataDir, SIGNING_KEYS_FILE);

function checkKid(kid: string): string {
  if (!KID.test(kid)) throw new CliError(`--kid takes 1 to 64 of A-Z a-z 0-9 _ -, not '${kid}'`, EXIT.usage);
  return kid;
}

/** The keys of the data dir's file; none when it does not exist yet. */
export async function readSigningKeys(dataDir: string): Promise<KeyMap> {
  let text: string;
  try {
    text = await readFile(keysPath(dataDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Object.create(null);
    throw new CliError(`Cannot read ${keysPath(dataDir)}: ${(error as Error).message}`);
  }
  try {
    return parseSigningKeys(text);
  } catch (error) {
    throw new CliError(`${keysPath(dataDir)} is not a signing keys file: ${(error as Error).message}`);
  }
}

async function writeSigningKeys(dataDir: string, keys: KeyMap): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = keysPath(dataDir);
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ keys: { ...keys } }, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

/** The secret `sign --kid` uses: an active key of the file. */
export async function activeSigningSecret(dataDir: string, kid: string): Promise<string | undefined> {
  const entry = (await readSigningKeys(dataDir))[checkKid(kid)];
  if (entry?.retired) throw new CliError(`The signing key ${kid} is retired: its URLs are refused`);
  return entry?.secret;
}

export async function keysAdd(options: KeysOptions): Promise<void> {
  const kid = checkKid(options.kid ?? newKid());
  const store = deployedStore(options);
  if (store) {
    const added = await kvsKeysAdd(store, kid);
    process.stdout.write(`${JSON.stringify({ kid, secret: added.secret, created: added.created })}\n`);
    process.stderr.write(addedNote(kid, store.arn).replace('--kid', '--secret <secret> --kid'));
    return;
  }
  const keys = await readSigningKeys(options.dataDir);
  if (keys[kid]) {
    throw new CliError(
      `The signing key ${kid} exists${keys[kid].retired ? ' (retired)' : ''}: a kid is never reused, pick another`,
    );
  }
  const secret = randomBytes(32).toString('base64url');
  keys[kid] = { secret, created: new Date().toISOString() };
  await writeSigningKeys(options.dataDir, keys);
  process.stdout.write(`${JSON.stringify({ kid, secret, created: keys[kid].created })}\n`);
  process.stderr.write(addedNote(kid, keysPath(options.dataDir)));
}

export async function keysList(options: KeysOptions): Promise<void> {
  const store = deployedStore(options);
  if (store) {
    const kid = options.kid === undefined ? undefined : checkKid(options.kid);
    // The store keeps kid → secret only: no creation time; never the secret.
    for (const line of await kvsKeysList(store)) {
      if (kid === undefined || line.kid === kid) process.stdout.write(`${JSON.stringify(line)}\n`);
    }
    return;
  }
  const keys = await readSigningKeys(options.dataDir);
  for (const [kid, entry] of Object.entries(keys).sort(([a], [b]) => a.localeCompare(b))) {
    if (options.kid !== undefined && kid !== options.kid) continue;
    // Never the secret: a list is something people paste into tickets.
    const line = {
      kid,
      created: entry.created,
      status: entry.retired ? 'retired' : 'active',
      ...(entry.retired ? { retired: entry.retired } : {}),
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
}

export async function keysRetire(options: KeysOptions): Promise<void> {
  if (options.kid === undefined) throw new CliError('keys retire needs --kid K', EXIT.usage);
  const kid = checkKid(options.kid);
  const store = deployedStore(options);
  if (store) {
    await kvsKeysRetire(store, kid);
    process.stdout.write(`${JSON.stringify({ kid, status: 'retired' })}\n`);
    return;
  }
  const keys = await readSigningKeys(options.dataDir);
  // `default` is SIGNING_SECRET until the file names it: retiring it leaves a retired entry with no
  // secret behind, as the KeyValueStore keeps `""` (a missing `default` falls back to SIGNING_SECRET).
  const now = new Date().toISOString();
  if (!keys[kid] && kid === DEFAULT_KID) keys[kid] = { secret: '', created: now };
  const entry = keys[kid];
  if (!entry) throw new CliError(`No signing key ${kid} in ${keysPath(options.dataDir)}`);
  if (!entry.retired) {
    entry.retired = now;
    await writeSigningKeys(options.dataDir, keys);
  }
  process.stdout.write(`${JSON.stringify({ kid, status: 'retired', retired: entry.retired })}\n`);
}
