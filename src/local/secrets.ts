/**
 * The local CDN's secrets in its data dir (CONTRACT.md §1): a master key and an
 * API token, each created once with mode 0600 and read back on later starts.
 */
import { randomBytes } from 'node:crypto';
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
