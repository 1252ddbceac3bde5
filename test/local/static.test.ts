import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { holdPlaygroundUntil, servePlayground } from '../../src/local/static.js';

describe('local/static (the playground at /)', () => {
  let dir: string;
  let server: Server;
  let url: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-static-'));
    const root = pathToFileURL(`${dir}/`);
    server = createServer((req, res) => void servePlayground(res, 'index.html', req.method, root));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(async () => {
    // Leave no build behind for other files of the run.
    holdPlaygroundUntil(Promise.resolve({ state: 'fresh' }));
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('holds / while the first build runs and then answers the built page', async () => {
    const built = '<!doctype html><title>built playground</title>';
    holdPlaygroundUntil(
      new Promise((resolve) =>
        setTimeout(async () => {
          await writeFile(join(dir, 'index.html'), built);
          resolve({ state: 'built' });
        }, 400),
      ),
    );
    const page = await fetch(url);
    expect(page.status).to.equal(200);
    expect(await page.text()).to.equal(built);
    await rm(join(dir, 'index.html'));
  });

  it('without a playground, says why and never tells the user to run a command', async () => {
    holdPlaygroundUntil(Promise.resolve({ state: 'unavailable', reason: 'the playground build failed: <boom>' }));
    const page = await fetch(url);
    const html = await page.text();
    expect(page.status).to.equal(200);
    expect(html).to.include('the playground build failed: &#60;boom&#62;');
    expect(html).to.not.match(/npm|run |build:web/);
    expect(html).to.include('/samples/mountains.jpg');
  });
});
