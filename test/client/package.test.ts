/**
 * The client as a front-end app gets it: `npm pack` (which builds it by
 * `prepack`), the tarball unpacked into a fresh app's node_modules, and
 * `edge-resizer/client` and `edge-resizer/next` imported there by a child
 * Node process that logs every module it loads. Its `signUrl` is compared
 * with the `edge-resizer sign` command, and its declarations type-check an
 * app's correct calls and refuse wrong ones.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { REPO_ROOT, runCli } from '../helpers/cli.js';

const run = promisify(execFile);
const TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

/** Logs every module URL the process loads into `LOAD_LOG`, before the module runs. */
const HOOKS = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.LOAD_LOG, url + '\\n');
  return next(url, context);
}
`;

const APP = `import { register } from 'node:module';
register('./hooks.mjs', import.meta.url);
const client = await import('edge-resizer/client');
const next = await import('edge-resizer/next');
process.env.NEXT_PUBLIC_EDGE_RESIZER_URL = 'https://cdn.example.com';
process.env.NEXT_PUBLIC_EDGE_RESIZER_WIDTHS = '320,640';
const url = client.imageUrl('https://cdn.example.com', 'photos/cat.jpg', { width: 400, format: 'webp' });
const signed = await client.signUrl(url, { secret: 'packed-secret', kid: 'k1', expires: 2000000000 });
console.log(JSON.stringify({
  url,
  signed,
  srcset: client.srcset('https://cdn.example.com', 'a.jpg', [100, 500], {}, { allowedWidths: [320, 640] }),
  loader: next.default({ src: 'a.jpg', width: 600, quality: 70 }),
}));
`;

/** An app's TypeScript: the lines after each `@ts-expect-error` must not compile, the rest must. */
const TYPES = `import { imageUrl, signUrl, srcset } from 'edge-resizer/client';
import loader from 'edge-resizer/next';

imageUrl('https://cdn.example.com', 'a.jpg', { width: 400, fit: 'cover', format: 'avif', rotate: 90, rect: { x: 0, y: 0, width: 5, height: 5 } });
srcset('https://cdn.example.com', 'a.jpg', [320, 640], { quality: 60 }, { allowedWidths: [320, 640] });
void signUrl('/a.jpg', { secret: 's', expires: '1h' });
loader({ src: 'a.jpg', width: 100 });
// @ts-expect-error an unknown parameter
imageUrl('https://cdn.example.com', 'a.jpg', { widht: 400 });
// @ts-expect-error width is a number
imageUrl('https://cdn.example.com', 'a.jpg', { width: '400' });
// @ts-expect-error not a fit mode
imageUrl('https://cdn.example.com', 'a.jpg', { fit: 'crop' });
// @ts-expect-error not a rotation
imageUrl('https://cdn.example.com', 'a.jpg', { rotate: 45 });
// @ts-expect-error not a format
imageUrl('https://cdn.example.com', 'a.jpg', { format: 'gif' });
// @ts-expect-error srcset sets width itself
srcset('https://cdn.example.com', 'a.jpg', [320], { width: 10 });
// @ts-expect-error signing needs a secret
void signUrl('/a.jpg', { expires: '1h' });
`;

describe('edge-resizer/client from npm pack', function () {
  this.timeout(120_000);
  let dir: string;
  let app: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'client-pack-'));
    await run('npm', ['pack', '--pack-destination', dir, '--loglevel=error'], { cwd: REPO_ROOT });
    const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'));
    if (!tarball) expect.fail('npm pack wrote no tarball');
    app = join(dir, 'app');
    const installed = join(app, 'node_modules/edge-resizer');
    mkdirSync(installed, { recursive: true });
    await run('tar', ['-xzf', join(dir, tarball), '-C', installed, '--strip-components=1']);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    writeFileSync(join(app, 'hooks.mjs'), HOOKS);
    writeFileSync(join(app, 'main.mjs'), APP);
    writeFileSync(join(app, 'check.ts'), TYPES);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads only the client files, with no node: import, and builds the URLs the source does', async () => {
    const log = join(dir, 'loaded.txt');
    writeFileSync(log, '');
    const env: NodeJS.ProcessEnv = { ...process.env, LOAD_LOG: log };
    delete env.NODE_OPTIONS;
    const { stdout } = await run(process.execPath, ['main.mjs'], { cwd: app, env });
    const loaded = readFileSync(log, 'utf8').trim().split('\n');
    const prefix = `file://${app}/node_modules/edge-resizer/`;
    expect(loaded.sort()).to.deep.equal([`${prefix}dist/client/index.js`, `${prefix}dist/client/next.js`]);
    for (const file of ['index.js', 'next.js'])
      expect(readFileSync(join(app, 'node_modules/edge-resizer/dist/client', file), 'utf8')).to.not.match(
        /\bimport\b[^;]*["'](node:|\.)/,
      );
    const out = JSON.parse(stdout);
    expect(out.url).to.equal('https://cdn.example.com/photos/cat.jpg?width=400&format=webp');
    expect(out.srcset).to.equal(
      'https://cdn.example.com/a.jpg?width=320 320w, https://cdn.example.com/a.jpg?width=640 640w',
    );
    expect(out.loader).to.equal('https://cdn.example.com/a.jpg?width=640&quality=70&format=auto');

    // Byte-identical to the command line's signature of the same URL, key name and expiry.
    const cli = await runCli(['sign', out.url, '--secret', 'packed-secret', '--kid', 'k1', '--expires', '2000000000']);
    expect(cli.stderr).to.equal('');
    expect(out.signed).to.equal(cli.stdout.trim());
  });

  it("type-checks an app's calls against the published declarations and refuses wrong names and values", async () => {
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          types: [],
          lib: ['ES2022', 'DOM'],
        },
        files: ['check.ts'],
      }),
    );
    const result = await run(process.execPath, [TSC, '-p', app]).then(
      () => ({ ok: true, out: '' }),
      (error: { stdout: string }) => ({ ok: false, out: error.stdout }),
    );
    expect(result.out).to.equal('');
    expect(result.ok).to.equal(true);
    // Each refused line is refused: without its directive it is an error.
    writeFileSync(join(app, 'check.ts'), TYPES.replace(/\/\/ @ts-expect-error.*\n/g, ''));
    const unchecked = await run(process.execPath, [TSC, '-p', app]).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
    expect(unchecked.match(/error TS/g)?.length).to.equal((TYPES.match(/@ts-expect-error/g) ?? []).length);
  });
});
