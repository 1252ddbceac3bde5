/**
 * Master key providers: a key file locally, an SSM
 * SecureString when deployed. The key is read once per container and cached;
 * a failed read is not cached, so the next request tries again.
 */

import { readFile } from 'node:fs/promises';
import { cached } from '../core/cached.js';
import type { MasterKeySource } from '../core/config.js';
import { parseMasterKey } from '../core/envelope.js';
import { HttpError } from '../core/errors.js';

export type MasterKeyProvider = () => Promise<Buffer>;

/** Reads one SSM SecureString, decrypted (deployed: `createSsmReader` of clients.ts). */
export type ParameterRead = (name: string) => Promise<string>;

export function createMasterKeyProvider(source: MasterKeySource, readParameter?: ParameterRead): MasterKeyProvider {
  return cached(() =>
    load(source, readParameter).catch((error: unknown) => {
      throw new HttpError('storage_error', 'The master key is unavailable', { cause: error });
    }),
  );
}

/**
 * An SSM parameter's value (a SecureString decrypted), read once per container
 * and cached like the master key. Empty is a failure.
 */
export function createParameterReader(readParameter: ParameterRead, name: string): () => Promise<string> {
  return cached(async () => {
    try {
      const value = (await readParameter(name)).trim();
      if (!value) throw new Error(`SSM parameter ${name} is empty`);
      return value;
    } catch (error) {
      throw new HttpError('storage_error', 'A configuration secret is unavailable', { cause: error });
    }
  });
}

async function load(source: MasterKeySource, readParameter?: ParameterRead): Promise<Buffer> {
  switch (source.type) {
    case 'inline':
      return parseMasterKey(source.keyHex);
    case 'file':
      return parseMasterKey(await readFile(source.path));
    case 'ssm': {
      if (!readParameter) throw new Error('An SSM reader is needed for an SSM master key');
      return parseMasterKey(await readParameter(source.parameterName));
    }
  }
}
