/**
 * Changing the user metadata of a stored original (the focal point) without
 * touching its bytes. The S3 store does it server side with a self-copy
 * (`updateOriginalMetadata`); where a store has no such call yet, the object is
 * read and stored again under the same key, encrypted bytes unchanged.
 */
import type { S3Store } from '../storage/s3-store.js';

/** Names to set, or null to remove. */
export type MetadataPatch = Record<string, string | null>;

type UpdateOriginalMetadata = (key: string, patch: MetadataPatch) => Promise<Record<string, string> | undefined>;

/** False when the object is missing. */
export async function patchOriginalMetadata(store: S3Store, key: string, patch: MetadataPatch): Promise<boolean> {
  const native = (store as { updateOriginalMetadata?: UpdateOriginalMetadata }).updateOriginalMetadata;
  if (native) return (await native(key, patch)) !== undefined;
  const stored = await store.getOriginal(key);
  if (!stored) return false;
  const metadata: Record<string, string> = { ...stored.metadata };
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete metadata[name];
    else metadata[name] = value;
  }
  await store.putOriginal(key, stored.body, metadata, stored.body.length);
  return true;
}
