/**
 * Storage faults: S3 stopped mid-run, S3 slow, derivative writes refused,
 * DynamoDB gone. The server answers JSON errors, recovers when
 * storage returns, and no stored object is ever partial.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import sharp from 'sharp';
import { createConfig } from '../../src/core/config.js';
import { decryptBuffer, parseMasterKey } from '../../src/core/envelope.js';
import { type EmbeddedServer, startDynalite, startS3rver } from '../../src/local/embedded-servers.js';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';
import { createS3Client, LOCAL_CREDENTIALS } from '../../src/storage/clients.js';
import { createLocalS3Store } from '../../src/wiring/local.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { fixture } from '../helpers/images.js';
import { assertNoLeak } from '../helpers/leaks.js';

const config = createConfig();

describe('storage faults', () => {
  let dir: string;
  let s3: EmbeddedServer;
  let dynamo: EmbeddedServer;
  let s3Proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  let dynamoProxy: Awaited<ReturnType<typeof startFaultProxy>>;
  let server: LocalServer;
  const logs: string[] = [];
  const injected: string[] = [];

  const startS3 = (port?: number) =>
    startS3rver({ directory: join(dir, 's3'), buckets: [config.originalsBucket, config.derivativesBucket], port });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-faults-'));
    s3 = await startS3();
    dynamo = await startDynalite({ directory: join(dir, 'dynamo') });
    s3Proxy = await startFaultProxy(s3.endpoint);
    dynamoProxy = await startFaultProxy(dynamo.endpoint);
    server = await startLocalServer({
      dataDir: join(dir, 'data'),
      port: 0,
      logLevel: 'info',
      log: (line) => logs.push(line),
      seedSamples: false,
      s3Endpoint: s3Proxy.endpoint,
      dynamoEndpoint: dynamoProxy.endpoint,
    });
    expect((await put('photos/a.jpg', fixture('photos/fig.jpg'))).status).to.equal(201);
  });
  after(async () => {
    await server.close();
    await s3Proxy.close();
    await dynamoProxy.close();
    await s3.close().catch(() => undefined);
    await dynamo.close();
    console.log(`      figure: faults injected and survived: ${injected.join(', ')}`);
    await rm(dir, { recursive: true, force: true });
  });

  const put = (key: string, body: Buffer<ArrayBuffer>) =>
    fetch(`${server.url}/api/images/${key}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${server.apiToken}` },
      body,
    });
  const image = (path: string) => fetch(`${server.url}${path}`, { headers: { accept: 'image/webp' } });

  async function expectJsonError(response: Response, status: number, code: string) {
    const text = await response.text();
    expect(response.status, text).to.equal(status);
    expect(response.headers.get('content-type')).to.match(/^application\/json/);
    expect(JSON.parse(text)).to.include({ status, code });
    assertNoLeak(text, server, dir);
  }

  it('S3 stopped mid-run: image misses and uploads answer 502 storage_error; all recovers when S3 is back', async () => {
    const port = s3.port;
    await s3.close();
    injected.push('s3rver stopped');
    await expectJsonError(await image('/photos/a.jpg?width=101'), 502, 'storage_error');
    await expectJsonError(await put('photos/while-down.jpg', fixture('photos/mountains.jpg')), 502, 'storage_error');

    s3 = await startS3(port);
    const recovered = await image('/photos/a.jpg?width=101');
    expect(recovered.status).to.equal(200);
    expect((await sharp(Buffer.from(await recovered.arrayBuffer())).metadata()).width).to.equal(101);
    // The failed upload left no metadata behind.
    const meta = await fetch(`${server.url}/api/images/photos/while-down.jpg`, {
      headers: { authorization: `Bearer ${server.apiToken}` },
    });
    expect(meta.status).to.equal(404);
    expect((await put('photos/while-down.jpg', fixture('photos/mountains.jpg'))).status).to.equal(201);
  });

  it('S3 slower than the timeout: 502 storage_error after the retries, then recovery', async () => {
    // Short timeouts and two attempts for this step alone (a second server on the same storage and
    // data dir), so the fault is answered in about a second while setup and recovery keep the defaults
    // and a loaded machine cannot time them out.
    const impatient = await startLocalServer({
      dataDir: join(dir, 'data'),
      port: 0,
      logLevel: 'silent',
      seedSamples: false,
      s3Endpoint: s3Proxy.endpoint,
      dynamoEndpoint: dynamoProxy.endpoint,
      config: { storage: { timeoutMs: 600, maxAttempts: 2 } },
    });
    try {
      s3Proxy.set({ kind: 'delay', ms: 2500 });
      injected.push('S3 delayed 2.5 s');
      const slow = await fetch(`${impatient.url}/photos/a.jpg?width=102`, { headers: { accept: 'image/webp' } });
      await expectJsonError(slow, 502, 'storage_error');
    } finally {
      s3Proxy.set({ kind: 'pass' });
      await impatient.close();
    }
    expect((await image('/photos/a.jpg?width=102')).status).to.equal(200);
  });

  it('a refused derivative write still answers the image, logs it, and stores nothing partial', async () => {
    s3Proxy.set({ kind: 'fail-puts', pathPrefix: `/${config.derivativesBucket}/` });
    injected.push('derivative PUTs refused');
    const before = server.transforms();
    const response = await image('/photos/a.jpg?width=104');
    expect(response.status).to.equal(200);
    expect((await sharp(Buffer.from(await response.arrayBuffer())).metadata()).width).to.equal(104);
    expect(logs.some((line) => line.includes('storing the derivative failed'))).to.equal(true);
    s3Proxy.set({ kind: 'pass' });
    const client = createS3Client({
      region: config.region,
      endpoint: s3.endpoint,
      credentials: LOCAL_CREDENTIALS,
      timeoutMs: 5000,
      maxAttempts: 2,
    });
    const stored = async () => {
      const { Contents = [] } = await client.send(
        new ListObjectsV2Command({ Bucket: config.derivativesBucket, Prefix: 'photos/a.jpg/w104-' }),
      );
      return Contents.length;
    };
    try {
      expect(await stored(), 'nothing was stored').to.equal(0);
      // Once the edge cache forgets it (a purge invalidates `/<key>*`), the same URL transforms again and stores.
      const purged = await fetch(`${server.url}/api/derivatives/photos/a.jpg`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${server.apiToken}` },
      });
      expect(purged.status).to.equal(200);
      expect((await image('/photos/a.jpg?width=104')).status).to.equal(200);
      expect(server.transforms() - before).to.equal(2);
      expect(await stored()).to.equal(1);
    } finally {
      client.destroy();
    }
  });

  it('S3 refusing writes (403 AccessDenied): DELETE answers 502, not 204, and the image is still there', async () => {
    expect((await put('photos/kept.jpg', fixture('photos/fig.jpg'))).status).to.equal(201);
    s3Proxy.set({ kind: 'deny-writes', pathPrefix: `/${config.originalsBucket}` });
    injected.push('S3 writes refused with 403');
    const deleted = await fetch(`${server.url}/api/images/photos/kept.jpg`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${server.apiToken}` },
    });
    await expectJsonError(deleted, 502, 'storage_error');
    s3Proxy.set({ kind: 'pass' });
    const still = await image('/photos/kept.jpg?width=60');
    expect(still.status).to.equal(200);
    expect((await sharp(Buffer.from(await still.arrayBuffer())).metadata()).width).to.equal(60);
  });

  it('a purge whose DeleteObjects partly fails answers 502, and a second purge finishes it', async () => {
    for (const width of [61, 62, 63, 64]) expect((await image(`/photos/a.jpg?width=${width}`)).status).to.equal(200);
    s3Proxy.set({ kind: 'partial-delete', refuse: /w6[24]-/ });
    injected.push('DeleteObjects partly refused');
    const purge = () =>
      fetch(`${server.url}/api/derivatives/photos/a.jpg`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${server.apiToken}` },
      });
    await expectJsonError(await purge(), 502, 'storage_error');
    s3Proxy.set({ kind: 'pass' });
    const again = await purge();
    expect(again.status, await again.clone().text()).to.equal(200);
    expect((await again.json()).deleted).to.equal(2);
    // Derivatives for the last check.
    for (const width of [61, 62]) expect((await image(`/photos/a.jpg?width=${width}&quality=79`)).status).to.equal(200);
  });

  it('DynamoDB gone: uploads and listings answer 502 storage_error and nothing is half stored; recovery after', async () => {
    dynamoProxy.set({ kind: 'down' });
    injected.push('DynamoDB down');
    await expectJsonError(await put('photos/no-table.jpg', fixture('photos/forest-stream.jpg')), 502, 'storage_error');
    const listing = await fetch(`${server.url}/api/images`, {
      headers: { authorization: `Bearer ${server.apiToken}` },
    });
    await expectJsonError(listing, 502, 'storage_error');
    // The object written before the metadata failed was rolled back: the edge finds no original.
    await expectJsonError(await image('/photos/no-table.jpg?width=50'), 404, 'not_found');
    dynamoProxy.set({ kind: 'pass' });
    expect((await put('photos/no-table.jpg', fixture('photos/forest-stream.jpg'))).status).to.equal(201);
  });

  it('after all the faults, every stored original decrypts and every derivative decodes', async () => {
    const client = createS3Client({
      region: config.region,
      endpoint: s3.endpoint,
      credentials: LOCAL_CREDENTIALS,
      timeoutMs: 5000,
      maxAttempts: 2,
    });
    const store = createLocalS3Store(config, client);
    const masterKey = parseMasterKey(await readFile(join(dir, 'data', 'master.key')));
    try {
      const list = async (bucket: string) =>
        ((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key as string);
      const originals = await list(config.originalsBucket);
      expect(originals.length).to.be.greaterThan(2);
      for (const key of originals) {
        const stored = await store.getOriginal(key);
        const plaintext = decryptBuffer(stored!.body, stored!.metadata, masterKey);
        expect((await sharp(plaintext).metadata()).format, key).to.equal('jpeg');
      }
      const derivatives = await list(config.derivativesBucket);
      expect(derivatives.length).to.be.greaterThan(1);
      for (const key of derivatives) {
        const stored = await store.getDerivative(key);
        const meta = await sharp(stored!.body).metadata();
        expect(meta.width, key).to.be.a('number');
        await sharp(stored!.body).raw().toBuffer();
      }
    } finally {
      client.destroy();
    }
  });
});
