/**
 * How image keys are spelled in an S3-compatible store. On S3 a key is stored
 * as it is (`IDENTITY_KEY_CODEC`). s3rver stores each `/`-separated segment of a
 * key as a file or directory name, at most 255 bytes with its suffix
 * (`._S3rver_metadata.json`), while a valid image key has up to 512
 * characters with no bound per segment. `S3RVER_KEY_CODEC`, applied only by the
 * local wiring, splits every segment longer than `SEGMENT_CHUNK` characters
 * into chunks, each but the last ending in `~/`. `~` is outside the key
 * alphabet (`A-Z a-z 0-9 . _ - /`), so decoding is removing every `~/`.
 *
 * The encoding is prefix-preserving: a segment is cut from its start, so the
 * encoding of any prefix of a key is a prefix of the key's encoding, and a
 * listing of `encode(prefix)` finds exactly the keys starting with `prefix`.
 * A listing with the `/` delimiter would see a long segment's chunks as levels
 * (and s3rver does not even report a common prefix that holds only deeper
 * levels), so with a codec that `nests`, the store lists without a delimiter
 * and keeps the keys with no `/` after the prefix itself.
 */

export interface KeyCodec {
  /** The key as stored. */
  encode(key: string): string;
  /** The inverse of `encode` for every key it produced. */
  decode(stored: string): string;
  /** Whether encoded keys hold `/` that are not the key's own: delimited listings cannot be used. */
  nests: boolean;
}

export const IDENTITY_KEY_CODEC: KeyCodec = {
  encode: (key) => key,
  decode: (stored) => stored,
  nests: false,
};

/** 200 characters + `~` + s3rver's 22-character suffix stays under 255 bytes (keys are ASCII). */
export const SEGMENT_CHUNK = 200;
const CONTINUES = '~';

export const S3RVER_KEY_CODEC: KeyCodec = {
  encode(key) {
    return key
      .split('/')
      .map((segment) => {
        if (segment.length <= SEGMENT_CHUNK) return segment;
        const chunks: string[] = [];
        for (let start = 0; start < segment.length; start += SEGMENT_CHUNK) {
          chunks.push(segment.slice(start, start + SEGMENT_CHUNK));
        }
        return chunks.join(`${CONTINUES}/`);
      })
      .join('/');
  },
  decode(stored) {
    return stored.split(`${CONTINUES}/`).join('');
  },
  nests: true,
};
