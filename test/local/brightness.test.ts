import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';

describe('brightness through the local CDN', () => {
  let dataDir: string;
  let server: LocalServer;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'edge-resizer-brightness-'));
    server = await startLocalServer({ dataDir, port: 0, logLevel: 'error', log: () => {} });
  });
  after(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const get = (query: string) => fetch(`${server.url}/samples/mountains.jpg?${query}`, { headers: { accept: '*/*' } });

  it('brightness=1 is the derivative without it: one transform, one cache entry, the same ETag', async () => {
    const before = server.transforms();
    const plain = await get('width=96&format=png');
    expect(plain.status).to.equal(200);
    const plainBody = Buffer.from(await plain.arrayBuffer());
    const neutral = await get('width=96&format=png&brightness=1');
    expect(neutral.status).to.equal(200);
    expect(neutral.headers.get('x-cache')).to.equal('Hit from cloudfront');
    expect(neutral.headers.get('etag')).to.match(/^"[0-9a-f]{32}"$/);
    expect(neutral.headers.get('etag')).to.equal(plain.headers.get('etag'));
    expect(Buffer.from(await neutral.arrayBuffer()).equals(plainBody)).to.equal(true);
    expect(server.transforms() - before).to.equal(1);

    const brighter = await get('width=96&format=png&brightness=1.5');
    expect(brighter.status).to.equal(200);
    expect(brighter.headers.get('etag')).to.not.equal(plain.headers.get('etag'));
    const mean = async (image: Buffer) => (await sharp(image).stats()).channels[0]?.mean as number;
    expect(await mean(Buffer.from(await brighter.arrayBuffer()))).to.be.above(await mean(plainBody));
  });

  it('a bad brightness is a 400 invalid_param in sharp’s words, before any transform', async () => {
    const before = server.transforms();
    for (const value of ['6', '1.234', 'x']) {
      const response = await get(`width=96&brightness=${value}`);
      expect(response.status, value).to.equal(400);
      expect(response.headers.get('content-type')).to.match(/^application\/json/);
      expect(await response.json()).to.deep.equal({
        status: 400,
        code: 'invalid_param',
        message: `Expected number between 0 and 5 for brightness but received '${value}'`,
      });
    }
    expect(server.transforms() - before).to.equal(0);
  });
});
