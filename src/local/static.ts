/** Serves the built playground's files, and nothing outside its folder. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** Streams `file` from `root`; false when there is no such file (the caller answers 404). */
export async function serveStatic(res: ServerResponse, root: URL, file: string, method: string): Promise<boolean> {
  if (!/^[A-Za-z0-9._\-/]+$/.test(file) || file.split('/').some((part) => part === '..' || part === '')) return false;
  const path = fileURLToPath(new URL(file, root));
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) return false;
  res.writeHead(200, {
    'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
    'content-length': info.size,
    // index.html names the current assets, so it must be revalidated; assets may be cached briefly.
    'cache-control': file === 'index.html' ? 'no-cache' : 'public, max-age=300',
  });
  if (method === 'HEAD') {
    res.end();
    return true;
  }
  createReadStream(path).pipe(res);
  return true;
}
