/**
 * The playground's files: `web/dist/index.html` at `/`, everything else under
 * `/_playground/`, nothing outside that folder. `/` waits for the build that
 * `edge-resizer serve` runs on a fresh clone (playground-build.ts), and never
 * asks the user to build anything.
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

/**
 * The playground's build in flight (`edge-resizer serve` starts it beside the
 * server, see playground-build.ts): `/` waits for it rather than answering a
 * page about a build the user need not do. Set once per process, by `serve`.
 */
let build: Promise<unknown> | undefined;
let buildSettled = true;
/** Why the playground cannot be shown, once a build has failed. */
let unavailableReason: string | undefined;

export function holdPlaygroundUntil(pending: Promise<{ state: string; reason?: string }>): void {
  buildSettled = false;
  unavailableReason = undefined;
  build = pending.then(
    (result) => {
      buildSettled = true;
      if (result.state === 'unavailable') unavailableReason = result.reason;
    },
    () => {
      buildSettled = true;
    },
  );
}

/** How long `/` is held for a build before it answers a page that reloads itself (a build takes 1–3 s). */
export const PLAYGROUND_HOLD_MS = 15_000;

/** `file` of the playground (`index.html` for `/`), held while its build runs; a page saying why it is absent; or a 404. */
export async function servePlayground(
  res: ServerResponse,
  file: string,
  method = 'GET',
  root: URL = PLAYGROUND_DIR,
): Promise<void> {
  if (!buildSettled && build) {
    let timer: NodeJS.Timeout | undefined;
    const held = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, PLAYGROUND_HOLD_MS);
    });
    await Promise.race([build, held]);
    clearTimeout(timer);
  }
  if (await serveStatic(res, root, file, method)) return;
  if (file === 'index.html') {
    const page = buildSettled ? unavailablePage(unavailableReason) : BUILDING_PAGE;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(method === 'HEAD' ? undefined : page);
    return;
  }
  sendError(res, new HttpError('not_found', 'Not found'));
}

const SAMPLE_LINK = '<p>Try <a href="/samples/mountains.jpg?width=400">/samples/mountains.jpg?width=400</a>.</p>';

/** Still building after the hold: the page reloads itself until the playground is there. */
const BUILDING_PAGE = `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>edge-resizer</title>
<h1>edge-resizer</h1><p>The playground is being built (first start, or its sources changed); this page reloads itself.</p>
${SAMPLE_LINK}`;

/** No playground and no build to wait for: says why (the server's start line says it too); images work regardless. */
function unavailablePage(reason: string | undefined): string {
  const why = reason ? `: ${escapeHtml(reason)}` : '';
  return `<!doctype html><meta charset="utf-8"><title>edge-resizer</title>
<h1>edge-resizer</h1><p>The playground is not available${why}. Image URLs and the API work without it.</p>
${SAMPLE_LINK}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
