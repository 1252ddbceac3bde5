/**
 * The playground's files: `web/dist/index.html` at `/`, everything else under
 * `/_playground/`, nothing outside that folder; a placeholder page while it is
 * not built (`edge-resizer serve` builds it, see playground-build.ts).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpError } from '../core/errors.js';
import { sendError } from './reply.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

export const PLAYGROUND_DIR = new URL('../../web/dist/', import.meta.url);

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

/** `file` of the playground (`index.html` for `/`), the placeholder page, or a 404. */
export async function servePlayground(res: ServerResponse, file: string, method = 'GET'): Promise<void> {
  if (await serveStatic(res, PLAYGROUND_DIR, file, method)) return;
  if (file === 'index.html') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(method === 'HEAD' ? undefined : PLACEHOLDER_PAGE);
    return;
  }
  sendError(res, new HttpError('not_found', 'Not found'));
}

const PLACEHOLDER_PAGE = `<!doctype html><meta charset="utf-8"><title>edge-resizer</title>
<h1>edge-resizer</h1><p>The playground is not built yet: run <code>npm run build:web</code>, then reload.</p>
<p>Try <a href="/samples/mountains.jpg?width=400">/samples/mountains.jpg?width=400</a>.</p>`;
