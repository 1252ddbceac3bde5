import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';
import { isViewerResponse, loadViewerFunction, viewerEvent } from '../../src/local/viewer-function.js';
import { runCli, startServe } from '../helpers/cli.js';

const fixturePath = (path: string) => new URL(`../../fixtures/${path}`, import.meta.url);

describe('cli (edge-resizer)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-cli-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  describe('usage', () => {
    for (const command of ['', 'serve', 'upload', 'keygen', 'keys', 'sign', 'purge', 'bench']) {
      it(`\`${command || '(none)'} --help\` prints usage and exits 0`, async () => {
        const result = await runCli([...(command ? [command] : []), '--help']);
        expect(result.code).to.equal(0);
        expect(result.stdout).to.match(/Usage: edge-resizer/);
      });
    }

    const misuse: string[][] = [
      ['bogus'],
      ['upload'],
      ['sign'],
      ['purge'],
      ['serve', '--port', 'abc'],
      ['serve', '--no-such-flag'],
      ['upload', 'x', '--concurrency', '0'],
      ['sign', '/a.jpg', '--expires', 'tomorrow'],
    ];
    for (const args of misuse) {
      it(`\`${args.join(' ')}\` is bad usage: exit 2, a message, no stack`, async () => {
        const result = await runCli(args, { env: { SIGNING_SECRET: 's' } });
        expect(result.code).to.equal(2);
        expect(result.stderr).to.not.equal('');
        expect(result.stderr).to.not.match(/\n\s+at /);
      });
    }
  });

  it('keygen writes a 256-bit key with mode 0600 and never overwrites without --force', async () => {
    const out = join(dir, 'key.hex');
    expect((await runCli(['keygen', '--out', out])).code).to.equal(0);
    expect((await readFile(out, 'utf8')).trim()).to.match(/^[0-9a-f]{64}$/);
    expect((await stat(out)).mode & 0o777).to.equal(0o600);
    const again = await runCli(['keygen', '--out', out]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/exists/);
    expect((await runCli(['keygen', '--out', out, '--force'])).code).to.equal(0);
    const printed = await runCli(['keygen']);
    expect(printed.stdout.trim()).to.match(/^[0-9a-f]{64}$/);
  });

  it('sign prints a URL the viewer-request function accepts', async () => {
    const result = await runCli(['sign', 'https://cdn.example.com/photos/cat.jpg?width=400', '--expires', '15m'], {
      env: { SIGNING_SECRET: 'cli-secret' },
    });
    expect(result.code).to.equal(0);
    const signed = new URL(result.stdout.trim());
    expect(signed.searchParams.get('sig')).to.match(/^[A-Za-z0-9_-]{43}$/);
    const exp = Number(signed.searchParams.get('exp'));
    expect(exp - Date.now() / 1000).to.be.within(880, 905);
    const viewer = loadViewerFunction({
      signingSecret: 'cli-secret',
      defaultQuality: 80,
      allowedWidths: [],
      widthPolicy: 'reject',
      maxDimension: 4096,
    });
    const verdict = viewer(viewerEvent('GET', signed.pathname, signed.search.slice(1), {}, '127.0.0.1'));
    expect(isViewerResponse(verdict)).to.equal(false);
  });

  it('sign refuses an expiry that is not in the future: exit 2, one line, nothing printed', async () => {
    const past = String(Math.floor(Date.now() / 1000) - 3600);
    for (const expires of [past, '0s', '1000000000']) {
      const result = await runCli(['sign', '/a.jpg?width=10', '--expires', expires], {
        env: { SIGNING_SECRET: 'cli-secret' },
      });
      expect(result.code, expires).to.equal(2);
      expect(result.stdout).to.equal('');
      expect(result.stderr.trim().split('\n'), result.stderr).to.have.length(1);
      expect(result.stderr).to.match(/not in the future/);
    }
    const future = String(Math.floor(Date.now() / 1000) + 600);
    const ok = await runCli(['sign', '/a.jpg?width=10', '--expires', future], { env: { SIGNING_SECRET: 's' } });
    expect(ok.code, ok.stderr).to.equal(0);
    expect(new URL(ok.stdout.trim(), 'http://x').searchParams.get('exp')).to.equal(future);
  });

  describe('serve --config (stage settings, one schema)', () => {
    const write = async (name: string, content: string) => {
      const path = join(dir, name);
      await writeFile(path, content);
      return path;
    };
    const refusals: [string, string, RegExp][] = [
      ['unknown.json', '{"presetz": {}}', /presetz is not a stage setting/],
      [
        'quality.json',
        '{"defaultQuality": 101}',
        /Expected integer between 1 and 100 for defaultQuality but received '101'/,
      ],
      ['limit.json', '{"limits": {"maxDimension": "big"}}', /for limits\.maxDimension but received 'big'/],
      ['preset.json', '{"presets": {"card": "width=0"}}', /presets\.card: .*width/],
      ['broken.json', '{"presets": ', /is not JSON/],
      // Presets no URL could use: a name every object has, a width the stage's own allow-list refuses.
      ['proto.json', '{"presets": {"__proto__": "width=100"}}', /preset name .*'__proto__'/],
      [
        'widths.json',
        '{"allowedWidths": [100, 200], "widthPolicy": "reject", "presets": {"wide": "width=333"}}',
        /presets\.wide: .*333/,
      ],
    ];
    for (const [name, content, message] of refusals) {
      it(`exits 2 with one line for ${name}`, async () => {
        const file = await write(name, content);
        const result = await runCli(['serve', '--port', '0', '--data-dir', join(dir, 'never'), '--config', file]);
        expect(result.code, result.stderr).to.equal(2);
        expect(result.stderr.trim().split('\n'), result.stderr).to.have.length(1);
        expect(result.stderr).to.match(message);
        expect(result.stderr).to.include(name);
      });
    }

    it('reads EDGE_RESIZER_CONFIG too, and a missing file is bad usage', async () => {
      const file = await write('env.json', '{"widthPolicy": "round"}');
      const byEnv = await runCli(['serve', '--port', '0', '--data-dir', join(dir, 'never')], {
        env: { EDGE_RESIZER_CONFIG: file },
      });
      expect(byEnv.code, byEnv.stderr).to.equal(2);
      expect(byEnv.stderr).to.match(/widthPolicy/);
      const missing = await runCli(['serve', '--config', join(dir, 'nope.json')]);
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.match(/Cannot read the config file .*nope\.json \(ENOENT\)/);
    });

    it("applies a valid file's settings to the running server", async function () {
      this.timeout(120_000);
      const file = await write('good.json', JSON.stringify({ limits: { maxDimension: 1000 }, defaultQuality: 60 }));
      const served = await startServe(['--port', '0', '--data-dir', join(dir, 'configured'), '--config', file]);
      try {
        expect(served.stderr()).to.include(`Config       ${file}`);
        const tooWide = await fetch(`${served.url}/samples/fig.jpg?width=1500`);
        expect(tooWide.status).to.equal(400);
        expect(await tooWide.json()).to.include({ code: 'invalid_param' });
        expect((await fetch(`${served.url}/samples/fig.jpg?width=900`)).status).to.equal(200);
      } finally {
        await served.stop();
      }
    });
  });

  it('sign without a secret fails with exit 1 and says why', async () => {
    const result = await runCli(['sign', '/a.jpg'], { env: { SIGNING_SECRET: '' } });
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/SIGNING_SECRET/);
  });

  describe('upload and purge against a running local CDN', () => {
    let server: LocalServer;
    let dataDir: string;
    before(async () => {
      dataDir = join(dir, 'data');
      server = await startLocalServer({ dataDir, port: 0, logLevel: 'silent', seedSamples: false });
    });
    after(() => server.close());

    it('uploads a directory of good and bad files: good ones stored, one JSON line each, exit 1', async () => {
      const upload = join(dir, 'to-upload');
      await mkdir(join(upload, 'nested'), { recursive: true });
      await copyFile(fixturePath('photos/fig.jpg'), join(upload, 'fig.jpg'));
      await copyFile(fixturePath('edge/alpha.png'), join(upload, 'nested', 'alpha.png'));
      await copyFile(fixturePath('edge/image.svg'), join(upload, 'drawing.svg'));
      await copyFile(fixturePath('edge/truncated.jpg'), join(upload, 'broken.jpg'));
      await writeFile(join(upload, 'notes.txt'), 'not an image');

      const missing = join(dir, 'missing.jpg');
      const result = await runCli([
        'upload',
        upload,
        missing,
        '--prefix',
        'batch/',
        '--endpoint',
        server.url,
        '--data-dir',
        dataDir,
      ]);
      expect(result.code).to.equal(1);
      const lines = result.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(lines).to.have.length(6);
      expect(lines.find((line) => line.file === missing)).to.include({ ok: false, error: 'No such file or directory' });
      const byKey = Object.fromEntries(lines.map((line) => [line.key, line]));
      expect(byKey['batch/fig.jpg']).to.include({ ok: true, version: 1 });
      expect(byKey['batch/nested/alpha.png']).to.include({ ok: true });
      expect(byKey['batch/drawing.svg']).to.include({ ok: false });
      expect(byKey['batch/drawing.svg'].error).to.match(/415 unsupported_format/);
      expect(byKey['batch/broken.jpg'].error).to.match(/422 corrupt_image/);
      expect(byKey['batch/notes.txt'].error).to.match(/415/);

      const stored = await fetch(`${server.url}/batch/nested/alpha.png?width=20`);
      expect(stored.status).to.equal(200);
      const refused = await fetch(`${server.url}/batch/drawing.svg?width=20`);
      expect(refused.status).to.equal(404);
    });

    it('purge deletes the derivatives, so the next request transforms again', async () => {
      const first = await fetch(`${server.url}/batch/fig.jpg?width=99`);
      expect(first.status).to.equal(200);
      const before = server.transforms();
      const result = await runCli(['purge', 'batch/fig.jpg', '--endpoint', server.url, '--data-dir', dataDir]);
      expect(result.code, result.stderr).to.equal(0);
      expect(JSON.parse(result.stdout)).to.include({ key: 'batch/fig.jpg' });
      expect(JSON.parse(result.stdout).deleted).to.be.at.least(1);
      const again = await fetch(`${server.url}/batch/fig.jpg?width=99`);
      expect(again.headers.get('x-cache')).to.equal('Miss from cloudfront');
      expect(server.transforms() - before).to.equal(1);
    });

    it('upload with a wrong token fails every file with the reason', async () => {
      const result = await runCli([
        'upload',
        fileURLToPath(fixturePath('photos/fig.jpg')),
        '--endpoint',
        server.url,
        '--token',
        'wrong',
      ]);
      expect(result.code).to.equal(1);
      expect(JSON.parse(result.stdout.trim())).to.include({ ok: false });
      expect(JSON.parse(result.stdout.trim()).error).to.match(/403 forbidden/);
    });
  });
});
