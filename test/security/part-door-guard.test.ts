/**
 * The local server's last line: an error that escapes every handler is one
 * JSON log line and the server keeps answering. Run in a process of its own,
 * so the error is really uncaught (the test runner would catch it otherwise).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { REPO_ROOT } from '../helpers/cli.js';

const SCRIPT = (serverModule: string, dataDir: string) => `
import { startLocalServer } from ${JSON.stringify(serverModule)};
const server = await startLocalServer({ dataDir: ${JSON.stringify(dataDir)}, port: 0, seedSamples: false, logLevel: 'error' });
// What slipped through before: a stream error nobody listens to, a rejection nobody awaits.
setTimeout(() => { throw new Error('escaped a handler'); }, 10);
setTimeout(() => { void Promise.reject(new Error('nobody awaited this')); }, 20);
setTimeout(async () => {
  const response = await fetch(server.url + '/api/images', { headers: { authorization: 'Bearer ' + server.apiToken } });
  console.log('answered ' + response.status);
  await server.close();
}, 200);
`;

describe('the local server survives an error that escapes every handler', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-guard-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('logs one JSON line for each and keeps answering', async () => {
    const script = join(dir, 'guarded.mts');
    const serverModule = pathToFileURL(join(REPO_ROOT, 'src', 'local', 'server.ts')).href;
    await writeFile(script, SCRIPT(serverModule, join(dir, 'data')));
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.stderr.resume();
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const lines = out.split('\n').filter((line) => line.startsWith('{'));
    const messages = lines.map((line) => JSON.parse(line) as { level?: string; msg?: string; message?: string });
    const texts = messages.map((m) => m.msg ?? m.message ?? '');
    expect(texts, out).to.include('uncaught exception; still serving');
    expect(texts, out).to.include('unhandled rejection; still serving');
    expect(out).to.include('answered 200');
    expect(code).to.equal(0);
  });
});
