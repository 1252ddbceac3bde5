import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { signUrl } from '../../src/core/signing.js';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';

const SECRET = 'local-signing-secret';

describe('local/server with signed URLs and a width allow-list', () => {
  let dataDir: string;
  let server: LocalServer;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'edge-resizer-signing-'));
    server = await startLocalServer({
      dataDir,
      port: 0,
      logLevel: 'silent',
      signingSecret: SECRET,
      config: { allowedWidths: [200, 400, 800], widthPolicy: 'snap' },
    });
  });
  after(async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const get = (path: string) => fetch(`${server.url}${path}`, { headers: { accept: 'image/webp' } });

  it('refuses unsigned, tampered and expired URLs with 403, cache hits included', async () => {
    const signed = signUrl('/samples/fig.jpg?width=400', SECRET, '1h');
    const first = await get(signed);
    expect(first.status).to.equal(200);
    expect(first.headers.get('x-cache')).to.equal('Miss from cloudfront');

    const unsigned = await get('/samples/fig.jpg?width=400');
    expect(unsigned.status).to.equal(403);
    expect(await unsigned.json()).to.include({ code: 'invalid_signature' });
    expect((await get(signed.replace('width=400', 'width=800'))).status).to.equal(403);
    const expired = await get(signUrl('/samples/fig.jpg?width=400', SECRET, String(Math.floor(Date.now() / 1000) - 1)));
    expect(expired.status).to.equal(403);
    expect(await expired.json()).to.include({ code: 'expired' });
  });

  it('checks the signature on the URL as sent, then serves the canonical variant', async () => {
    const signed = signUrl('/samples%2Ffig.jpg?width=0400', SECRET, '1h');
    const response = await get(signed);
    expect(response.status).to.equal(200);
    expect(response.headers.get('x-cache')).to.equal('Hit from cloudfront');
    expect((await get(signed.replace('width=0400', 'width=400'))).status).to.equal(403);
  });

  it('keeps sig and exp out of the cache key: a differently signed URL of the same variant is a hit', async () => {
    const again = await get(signUrl('/samples/fig.jpg?width=400', SECRET, '2h'));
    expect(again.status).to.equal(200);
    expect(again.headers.get('x-cache')).to.equal('Hit from cloudfront');
  });

  it('rotates signing keys from <dataDir>/signing-keys.json without a restart; a retired key is refused on a cache hit', async () => {
    const file = join(dataDir, 'signing-keys.json');
    const write = (retired?: string) =>
      writeFile(
        file,
        JSON.stringify({ keys: { k2: { secret: 'rotated-secret', created: new Date().toISOString(), retired } } }),
      );
    await write();
    const url = signUrl('/samples/fig.jpg?width=200', 'rotated-secret', '1h', undefined, 'k2');
    const first = await get(url);
    expect(first.status).to.equal(200);
    await first.arrayBuffer();
    const hit = await get(signUrl('/samples/fig.jpg?width=200', 'rotated-secret', '2h', undefined, 'k2'));
    expect(hit.headers.get('x-cache')).to.equal('Hit from cloudfront');
    await hit.arrayBuffer();
    await write(new Date().toISOString());
    const retired = await get(url);
    expect(retired.status).to.equal(403);
    expect(await retired.json()).to.include({ code: 'invalid_signature' });
    // The key `default` is still SIGNING_SECRET.
    expect((await get(signUrl('/samples/fig.jpg?width=200', SECRET, '1h'))).status).to.equal(200);
  });

  it('snaps odd widths up to the allow-list, so a flood of sizes makes few derivatives', async () => {
    const before = server.transforms();
    for (const width of [201, 250, 333, 399]) {
      const response = await get(signUrl(`/samples/mountains.jpg?width=${width}`, SECRET, '1h'));
      expect(response.status).to.equal(200);
    }
    expect(server.transforms() - before).to.equal(1);
  });
});

describe('local/server with a client-chosen query name of __proto__', () => {
  let dataDir: string;
  let server: LocalServer;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'edge-resizer-proto-'));
    server = await startLocalServer({ dataDir, port: 0, logLevel: 'silent' });
  });
  after(async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('gives percent-encoded spellings of one key and one number one cache entry', async () => {
    const before = server.transforms();
    const first = await fetch(`${server.url}/samples/fig.jpg?width=140`);
    expect(first.status).to.equal(200);
    expect(first.headers.get('x-cache')).to.equal('Miss from cloudfront');
    await first.arrayBuffer();
    for (const spelling of [
      '/samples%2Ffig.jpg?width=0140',
      '/samples/%66ig.jpg?width=%31%34%30',
      '/samples/fig.jpg?width=70&dpr=2',
    ]) {
      const again = await fetch(`${server.url}${spelling}`);
      expect(again.status, spelling).to.equal(200);
      expect(again.headers.get('x-cache'), spelling).to.equal('Hit from cloudfront');
      await again.arrayBuffer();
    }
    expect(server.transforms() - before).to.equal(1);
  });

  it('treats ?__proto__=1 as an ignored parameter and keeps serving the next URLs', async () => {
    const polluted = await fetch(`${server.url}/samples/fig.jpg?__proto__=1&constructor=2&width=120`);
    expect(polluted.status).to.equal(200);
    await polluted.arrayBuffer();
    expect(({} as Record<string, unknown>).multiValue).to.equal(undefined);
    const next = await fetch(`${server.url}/samples/fig.jpg?width=130`);
    expect(next.status).to.equal(200);
    expect(next.headers.get('content-type')).to.match(/^image\//);
  });
});
