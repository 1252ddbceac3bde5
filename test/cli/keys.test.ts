import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';
import { runCli } from '../helpers/cli.js';

describe('cli keys add|list|retire and sign --kid (local)', () => {
  let dir: string;
  let dataDir: string;
  let server: LocalServer;
  before(async function () {
    this.timeout(60_000);
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-keys-'));
    dataDir = join(dir, 'data');
    server = await startLocalServer({ dataDir, port: 0, logLevel: 'silent', signingSecret: 'the-default-secret' });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const cli = (args: string[]) =>
    runCli([...args, '--data-dir', dataDir], { env: { SIGNING_SECRET: 'the-default-secret' } });

  it('adds a key (secret printed once, file 0600), lists it without its secret, signs with it, retires it', async function () {
    this.timeout(120_000);
    const added = await cli(['keys', 'add', '--kid', 'k2026']);
    expect(added.code, added.stderr).to.equal(0);
    const { kid, secret } = JSON.parse(added.stdout) as { kid: string; secret: string };
    expect(kid).to.equal('k2026');
    expect(secret).to.match(/^[A-Za-z0-9_-]{43}$/);
    const file = join(dataDir, 'signing-keys.json');
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(await readFile(file, 'utf8')).keys.k2026).to.include({ secret });

    const listed = await cli(['keys', 'list']);
    expect(listed.code).to.equal(0);
    expect(listed.stdout).to.not.include(secret);
    expect(JSON.parse(listed.stdout.trim())).to.include({ kid: 'k2026', status: 'active' });

    const signed = await cli(['sign', '/samples/fig.jpg?width=50', '--kid', 'k2026', '--expires', '15m']);
    expect(signed.code, signed.stderr).to.equal(0);
    const path = signed.stdout.trim();
    expect(new URL(path, 'http://x').searchParams.get('kid')).to.equal('k2026');
    const first = await fetch(`${server.url}${path}`, { headers: { accept: '*/*' } });
    expect(first.status, await first.clone().text()).to.equal(200);
    const hit = await fetch(`${server.url}${path}`, { headers: { accept: '*/*' } });
    expect(hit.headers.get('x-cache')).to.equal('Hit from cloudfront');

    const retired = await cli(['keys', 'retire', '--kid', 'k2026']);
    expect(retired.code, retired.stderr).to.equal(0);
    expect(JSON.parse(retired.stdout)).to.include({ kid: 'k2026', status: 'retired' });
    // The cached object is still there; the viewer function refuses the URL first.
    const refused = await fetch(`${server.url}${path}`, { headers: { accept: '*/*' } });
    expect(refused.status).to.equal(403);
    expect(await refused.json()).to.include({ code: 'invalid_signature' });
    expect(JSON.parse((await cli(['keys', 'list', '--kid', 'k2026'])).stdout)).to.include({ status: 'retired' });

    // The default key still signs, without a kid.
    const plain = await cli(['sign', '/samples/fig.jpg?width=51']);
    expect((await fetch(`${server.url}${plain.stdout.trim()}`, { headers: { accept: '*/*' } })).status).to.equal(200);
  });

  it('refuses to reuse a kid, to sign with a retired or unknown key, and bad usage', async function () {
    this.timeout(120_000);
    const again = await cli(['keys', 'add', '--kid', 'k2026']);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/exists \(retired\)/);
    const withRetired = await cli(['sign', '/a.jpg', '--kid', 'k2026']);
    expect(withRetired.code).to.equal(1);
    expect(withRetired.stderr).to.match(/retired/);
    const unknown = await cli(['sign', '/a.jpg', '--kid', 'nope']);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.match(/No signing key nope/);
    for (const args of [
      ['keys', 'retire'],
      ['keys', 'add', '--kid', 'bad kid!'],
      ['keys', 'bogus'],
    ]) {
      const result = await cli(args);
      expect(result.code, args.join(' ')).to.equal(2);
      expect(result.stderr).to.not.match(/\n\s+at /);
    }
    const generated = await cli(['keys', 'add']);
    expect(generated.code, generated.stderr).to.equal(0);
    expect(JSON.parse(generated.stdout).kid).to.match(/^k\d{8}-[0-9a-f]{6}$/);
  });

  it('retires default: SIGNING_SECRET URLs, cached ones included, get 403 within seconds, and sign refuses it', async function () {
    this.timeout(120_000);
    const signed = await cli(['sign', '/samples/fig.jpg?width=52', '--expires', '15m']);
    expect(signed.code, signed.stderr).to.equal(0);
    const path = signed.stdout.trim();
    expect((await fetch(`${server.url}${path}`, { headers: { accept: '*/*' } })).status).to.equal(200);
    const hit = await fetch(`${server.url}${path}`, { headers: { accept: '*/*' } });
    expect(hit.headers.get('x-cache')).to.equal('Hit from cloudfront');

    const retired = await cli(['keys', 'retire', '--kid', 'default']);
    expect(retired.code, retired.stderr).to.equal(0);
    expect(JSON.parse(retired.stdout)).to.include({ kid: 'default', status: 'retired' });
    const deadline = Date.now() + 5_000;
    let refused = await fetch(`${server.url}${path}`, { headers: { accept: '*/*' } });
    while (refused.status !== 403 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      refused = await fetch(`${server.url}${path}`, { headers: { accept: '*/*' } });
    }
    expect(refused.status, 'within 5 s of retiring').to.equal(403);
    expect(await refused.json()).to.include({ code: 'invalid_signature' });

    const listed = JSON.parse((await cli(['keys', 'list', '--kid', 'default'])).stdout);
    expect(listed).to.include({ kid: 'default', status: 'retired' });
    const again = await cli(['sign', '/samples/fig.jpg?width=53']);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/retired/);
    expect((await cli(['keys', 'retire', '--kid', 'default'])).code, 'retiring twice is fine').to.equal(0);
  });

  it('a signing keys file broken by hand: the running server keeps the last good keys; serve refuses to start, naming it', async function () {
    this.timeout(120_000);
    const added = await cli(['keys', 'add', '--kid', 'klive']);
    expect(added.code, added.stderr).to.equal(0);
    const path = (await cli(['sign', '/samples/fig.jpg?width=54', '--kid', 'klive', '--expires', '15m'])).stdout.trim();
    expect((await fetch(`${server.url}${path}`, { headers: { accept: '*/*' } })).status).to.equal(200);

    const file = join(dataDir, 'signing-keys.json');
    await writeFile(file, '{"keys": {"klive": ', { mode: 0o600 });
    const kept = await fetch(`${server.url}${path}`, { headers: { accept: '*/*' } });
    expect(kept.status, await kept.clone().text()).to.equal(200);
    const other = path.replace('width=54', 'width=55');
    expect((await fetch(`${server.url}${other}`)).status, 'still checked: a tampered URL').to.equal(403);

    const fresh = join(dir, 'broken');
    await mkdir(fresh);
    await writeFile(join(fresh, 'signing-keys.json'), '{"keys": [1]}');
    const refused = await runCli(['serve', '--port', '0', '--data-dir', fresh]);
    expect(refused.code, refused.stderr).to.equal(1);
    expect(refused.stderr.trim().split('\n'), refused.stderr).to.have.length(1);
    expect(refused.stderr).to.include(join(fresh, 'signing-keys.json'));
    expect(refused.stderr).to.match(/not a signing keys file/);
  });
});
