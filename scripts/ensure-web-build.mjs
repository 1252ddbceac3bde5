// `npm start` serves the playground from web/dist: build it once if a fresh
// clone has not yet (a few seconds), so the first start shows the real page.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync(new URL('../web/dist/index.html', import.meta.url))) {
  process.stderr.write('Building the playground (first start only)…\n');
  execFileSync(
    process.execPath,
    [
      new URL('../node_modules/vite/bin/vite.js', import.meta.url).pathname,
      'build',
      '--config',
      'web/vite.config.ts',
      '--logLevel',
      'warn',
    ],
    {
      stdio: 'inherit',
      cwd: new URL('..', import.meta.url),
    },
  );
}
