/** Stores an original the way the API does: envelope-encrypted, metadata beside it. */
import { encryptBuffer } from '../../src/core/envelope.js';
import type { TestStorage } from './storage.js';

export async function putOriginal(storage: TestStorage, key: string, plaintext: Buffer): Promise<void> {
  const { body, metadata } = encryptBuffer(plaintext, storage.masterKey);
  await storage.store.putOriginal(key, body, metadata, body.length);
}
