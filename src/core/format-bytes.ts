/**
 * Bytes for people, in SI units (1 kB = 1000 B), as the playground shows them
 * and as AWS writes its quotas ("6 MB"): `512 B`, `64.0 kB`, `4.45 MB`. The one
 * convention of every message and view.
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '—';
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(1)} kB`;
  return `${(bytes / 1_000_000).toFixed(2)} MB`;
}
