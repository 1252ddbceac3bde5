/**
 * A focal point set through the API is the one the edge crops with: the
 * spelling PATCH accepts is the spelling the image path reads.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';
import { coordinateImage } from '../helpers/images.js';

describe('local CDN: focal points from PATCH to the crop', () => {
  let dataDir: string;
  let server: LocalServer;
  before(async function () {
    this.timeout(60_000);
    dataDir = await mkdtemp(join(tmpdir(), 'edge-resizer-focal-'));
    server = await startLocalServer({ dataDir, port: 0, logLevel: 'silent' });
  });
  after(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const api = (method: string, path: string, body: string | Uint8Array<ArrayBuffer>, contentType: string) =>
    fetch(`${server.url}${path}`, {
      method,
      body,
      headers: { authorization: `Bearer ${server.apiToken}`, 'content-type': contentType },
    });
  const pixels = async (path: string) => {
    const response = await fetch(`${server.url}${path}`, { headers: { accept: '*/*' } });
    expect(response.status, path).to.equal(200);
    return sharp(Buffer.from(await response.arrayBuffer()))
      .raw()
      .toBuffer();
  };

  it('crops at a PATCHed {"x": 1e-13, "y": 0.9} as at fx=0&fy=0.9, not from the centre', async function () {
    this.timeout(60_000);
    const key = 'focal/coordinates.png';
    const put = await api(
      'PUT',
      `/api/images/${key}`,
      new Uint8Array(await coordinateImage(400, 200)),
      'application/octet-stream',
    );
    expect(put.status, await put.clone().text()).to.equal(201);
    const patched = await api(
      'PATCH',
      `/api/images/${key}`,
      '{"focalPoint": {"x": 1e-13, "y": 0.9}}',
      'application/json',
    );
    expect(patched.status, await patched.clone().text()).to.equal(200);
    expect((await patched.json()).focalPoint).to.deep.equal({ x: 0, y: 0.9 });

    const crop = 'width=40&height=40&format=png';
    const stored = await pixels(`/${key}?${crop}&gravity=focal`);
    expect(stored.equals(await pixels(`/${key}?${crop}&fx=0&fy=0.9`)), 'the stored point').to.equal(true);
    expect(stored.equals(await pixels(`/${key}?${crop}&gravity=center`)), 'not the centre').to.equal(false);
  });
});
