/**
 * The playground the local CDN serves at `/` is `web/dist`, built by Vite. A fresh
 * clone has no `web/dist`, and a pull may change the playground's sources, so
 * `edge-resizer serve` builds it when it is missing or older than its sources
 * (about a second with Vite 8), instead of leaving that to the user or to
 * `npm ci` (a `prepare` step would slow every install, CI's included).
 */
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

export type PlaygroundState =
  /** web/dist is newer than every source file. */
  | 'fresh'
  /** It was missing or stale and has just been built. */
  | 'built'
  /** It could not be built (Vite not installed, or the build failed): `reason` says why. */
  | 'unavailable';

/** Newest modification time under `path` (a file or a folder walked recursively), 0 if absent. */
async function newestMtime(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of await readdir(path)) newest = Math.max(newest, await newestMtime(join(path, entry)));
  return newest;
}

/** True when web/dist/index.html is missing or older than a source of the playground. */
export async function playgroundNeedsBuild(webDir = WEB_DIR): Promise<boolean> {
  const built = await stat(join(webDir, 'dist', 'index.html')).catch(() => undefined);
  if (!built) return true;
  const sources = await Promise.all(
    ['index.html', 'src', 'vite.config.ts'].map((name) => newestMtime(join(webDir, name))),
  );
  return Math.max(...sources) > built.mtimeMs;
}

/** Builds web/dist when needed. Never throws: a server without its playground still serves images. */
export async function ensurePlaygroundBuilt(
  options: { webDir?: string; onBuild?: () => void } = {},
): Promise<{ state: PlaygroundState; reason?: string; ms: number }> {
  const started = performance.now();
  const webDir = options.webDir ?? WEB_DIR;
  const ms = () => Math.round(performance.now() - started);
  if (!(await playgroundNeedsBuild(webDir))) return { state: 'fresh', ms: ms() };
  let vite: string;
  try {
    const require = createRequire(import.meta.url);
    const manifest = require.resolve('vite/package.json');
    vite = join(dirname(manifest), (require(manifest) as { bin: { vite: string } }).bin.vite);
  } catch {
    return { state: 'unavailable', reason: 'Vite is not installed', ms: ms() };
  }
  options.onBuild?.();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [vite, 'build', '--config', join(webDir, 'vite.config.ts'), '--logLevel', 'error'],
      { cwd: dirname(webDir), timeout: 120_000, maxBuffer: 4 * 1024 * 1024 },
      (error, _stdout, stderr) => {
        if (error) {
          const firstLine = `${stderr}`.trim().split('\n')[0] || error.message;
          resolve({ state: 'unavailable', reason: `the playground build failed: ${firstLine}`, ms: ms() });
        } else resolve({ state: 'built', ms: ms() });
      },
    );
  });
}
