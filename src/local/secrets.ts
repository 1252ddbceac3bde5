/**
 * The local CDN's secrets in its data dir: a master key and an
 * API token, each created once with mode 0600 and read back on later starts.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateMasterKeyHex } from '../core/envelope.js';

export interface LocalSecrets {
  /** The master key file (64 hex characters). */
  masterKeyPath: string;
  /** `API_TOKEN` when given (nothing is written then), else the data dir's `api-token`. */
  apiToken: string;
}

export async function provisionSecrets(dataDir: string, apiToken?: string): Promise<LocalSecrets> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const masterKeyPath = join(dataDir, 'master.key');
  await createSecretFile(masterKeyPath, () => `${generateMasterKeyHex()}\n`);
  return {
    masterKeyPath,
    apiToken:
      apiToken ?? (await createSecretFile(join(dataDir, 'api-token'), () => randomBytes(24).toString('base64url'))),
  };
}

/** Writes a secret file (mode 0600) once; later starts read it back (and tighten a loosened mode). */
async function createSecretFile(path: string, make: () => string): Promise<string> {
  try {
    await writeFile(path, make(), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  if (((await stat(path)).mode & 0o077) !== 0) await chmod(path, 0o600);
  return (await readFile(path, 'utf8')).trim();
}

/** One signing key of `signing-keys.json` (written by `edge-resizer keys`). */
export interface SigningKeyEntry {
  secret: string;
  created: string;
  retired?: string;
}

/**
 * The keys of a `signing-keys.json` text, checked: `{ "keys": { "<kid>": { "secret", "created", "retired"? } } }`.
 * Throws an Error whose message says what is wrong (without a secret); the caller names the file.
 */
export function parseSigningKeys(text: string): Record<string, SigningKeyEntry> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message})`);
  }
  const map = (parsed as { keys?: unknown } | null)?.keys;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new Error('no "keys" object');
  const keys: Record<string, SigningKeyEntry> = Object.create(null);
  for (const [kid, entry] of Object.entries(map)) {
    const { secret, created, retired } = (entry ?? {}) as Partial<Record<keyof SigningKeyEntry, unknown>>;
    if (
      typeof secret !== 'string' ||
      typeof created !== 'string' ||
      !['undefined', 'string'].includes(typeof retired)
    ) {
      throw new Error(`the key "${kid}" needs a string "secret" and "created" (and "retired", if any, a string)`);
    }
    keys[kid] = { secret, created, ...(typeof retired === 'string' ? { retired } : {}) };
  }
  return keys;
}

/**
 * The local KeyValueStore's reader of `path`: re-read whenever the file
 * changes (modification time, size, inode). A file broken by hand keeps the
 * last good keys and reports once per change, naming the file, rather than
 * failing every signed request; a file that was never good answers no secret
 * for any kid (every signed URL 403, never the baked `SIGNING_SECRET` in place
 * of a `default` the file may have retired).
 */
export function signingKeysReader(
  path: string,
  onInvalid: (message: string) => void,
): () => Record<string, SigningKeyEntry> | 'unreadable' {
  let seen = '';
  let keys: Record<string, SigningKeyEntry> | 'unreadable' = Object.create(null);
  let good = false;
  return () => {
    let stamp = 'missing';
    try {
      const stats = statSync(path);
      stamp = `${stats.mtimeMs}:${stats.size}:${stats.ino}`;
    } catch {
      // No file: no keys but the baked default.
    }
    if (stamp === seen) return keys;
    seen = stamp;
    if (stamp === 'missing') {
      keys = Object.create(null);
      good = true;
      return keys;
    }
    try {
      keys = parseSigningKeys(readFileSync(path, 'utf8'));
      good = true;
    } catch (error) {
      if (!good) keys = 'unreadable';
      const kept = good ? 'keeping the keys read before' : 'every signed URL is refused until it is fixed';
      onInvalid(`${path} is not a signing keys file: ${(error as Error).message}; ${kept}`);
    }
    return keys;
  };
}
