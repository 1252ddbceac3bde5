/**
 * No stale derivative, deterministically: a render is held
 * in flight between reading the original and storing its derivative while the
 * API replaces, re-points or deletes the original; once released, neither its
 * answer nor any later one is of the old version, and nothing of the old
 * version is left in the derivatives bucket. Real API, s3rver and dynalite.
 */
import { CopyObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import sharp from 'sharp';
import { purgeDerivatives } from '../../src/api/uploads.js';
import { createLogger } from '../../src/core/log.js';
import { FOCAL_POINT_META, originalRevision, SOURCE_REVISION_META } from '../../src/core/render.js';
import { createOriginRequestHandler } from '../../src/edge/origin-request.js';
import { createOriginResponseHandler, type OriginResponseStore } from '../../src/edge/origin-response.js';
import { createEdgePipeline, type EdgeResponse } from '../../src/local/edge-pipeline.js';
import { type ApiHarness, startApi } from '../api/harness.js';

const RED = { r: 220, g: 20, b: 20 };
const BLUE = { r: 20, g: 20, b: 220 };

const solid = (colour: typeof RED) =>
  sharp({ create: { width: 96, height: 64, channels: 3, background: colour } })
    .png()
    .toBuffer();

/** The dominant channel of an image: 'red' or 'blue'. */
async function colourOf(image: Buffer): Promise<string> {
  const { channels } = await sharp(image).stats();
  const [r, , b] = channels.map((channel) => channel.mean);
  return (r ?? 0) > (b ?? 0) ? 'red' : 'blue';
}

/** A held step: `arm()` makes the next putDerivative wait at `reached` until `release()`. */
function createHold() {
  let armed: { reached: () => void; released: Promise<void> } | undefined;
  let reached: Promise<void> = Promise.resolve();
  let release: () => void = () => {};
  return {
    arm() {
      let onReached!: () => void;
      reached = new Promise<void>((resolve) => {
        onReached = resolve;
      });
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      armed = { reached: onReached, released };
    },
    reached: () => reached,
    release: () => release(),
    /** Called by the store wrapper. */
    async pass() {
      const current = armed;
      if (!current) return;
      armed = undefined;
      current.reached();
      await current.released;
    },
  };
}

describe('no stale derivative after a replace, a focal-point change or a DELETE', () => {
  let api: ApiHarness;
  let cdn: ReturnType<typeof createEdgePipeline>;
  let transforms = 0;
  const hold = createHold();

  before(async () => {
    api = await startApi();
    const real = api.storage.store;
    const store: OriginResponseStore = {
      ...real,
      // Between R1 (the original is read) and R2 (the derivative is stored): the widest window.
      async putDerivative(...args) {
        await hold.pass();
        return real.putDerivative(...args);
      },
    };
    cdn = createEdgePipeline({
      originRequest: createOriginRequestHandler(api.storage.config),
      originResponse: createOriginResponseHandler({
        config: api.storage.config,
        store,
        masterKey: async () => api.storage.masterKey,
        logger: createLogger('silent'),
        onTransform: () => {
          transforms += 1;
        },
      }),
      derivativesOrigin: `${api.storage.server.endpoint}/${api.storage.config.derivativesBucket}`,
    });
  });
  after(() => api.close());

  const get = (uri: string, querystring: string) =>
    cdn({ method: 'GET', uri, querystring, headers: { Accept: 'image/webp' } });
  const put = async (key: string, colour: typeof RED) => {
    const response = await api.request('PUT', `/api/images/${key}`, { body: await solid(colour) });
    expect(response.status, response.body.toString()).to.be.oneOf([200, 201]);
  };
  const derivativesOf = async (key: string) =>
    (await api.derivativeKeys()).filter((derivative) => derivative.startsWith(`${key}/`));
  const image = async (response: EdgeResponse) => {
    expect(response.status, response.body.toString()).to.equal(200);
    return colourOf(response.body);
  };

  it('a render in flight during a PUT replace stores nothing old: its answer and the next are the new image', async () => {
    await put('t/replace.png', RED);
    hold.arm();
    const inFlight = get('/t/replace.png', 'width=48');
    await hold.reached();

    await put('t/replace.png', BLUE);
    hold.release();

    expect(await image(await inFlight)).to.equal('blue');
    const before = transforms;
    const next = await get('/t/replace.png', 'width=48');
    expect(await image(next)).to.equal('blue');
    expect(transforms, 'served from storage').to.equal(before);
    const left = await derivativesOf('t/replace.png');
    expect(left).to.have.length(1);
    const stored = await api.storage.store.getDerivative(left[0] as string);
    expect(await colourOf(stored?.body ?? Buffer.alloc(0))).to.equal('blue');
  });

  it('a render in flight during a DELETE answers 404, the next request is a 404, and no derivative is left', async () => {
    await put('t/delete.png', RED);
    hold.arm();
    const inFlight = get('/t/delete.png', 'width=40');
    await hold.reached();

    expect((await api.request('DELETE', '/api/images/t/delete.png')).status).to.equal(204);
    hold.release();

    expect((await inFlight).status).to.equal(404);
    expect((await get('/t/delete.png', 'width=40')).status).to.equal(404);
    expect(await derivativesOf('t/delete.png')).to.deep.equal([]);
  });

  it('a render in flight during a focal-point change stores nothing of the old point', async () => {
    await put('t/focal.png', RED);
    const key = 't/focal.png';
    const bucket = api.storage.config.originalsBucket;
    hold.arm();
    const inFlight = get(`/${key}`, 'width=40&height=40');
    await hold.reached();

    // The API's write order for a focal-point change: rewrite the original's metadata, then purge.
    const head = await api.storage.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    await api.storage.client.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: key,
        CopySource: `${bucket}/${key}`,
        MetadataDirective: 'REPLACE',
        Metadata: { ...head.Metadata, [FOCAL_POINT_META]: '0.25,0.75' },
        ContentType: head.ContentType,
      }),
    );
    await purgeDerivatives(api.deps, key);
    hold.release();

    const current = originalRevision((await api.storage.store.headOriginal(key))?.metadata ?? {});
    expect(current).to.not.equal(originalRevision(head.Metadata ?? {}));
    expect((await inFlight).status).to.equal(200);
    const left = await derivativesOf(key);
    expect(left).to.have.length(1);
    const stored = await api.storage.store.getDerivative(left[0] as string);
    expect(stored?.metadata[SOURCE_REVISION_META], 'rendered from the new focal point').to.equal(current);
  });

  it('never serves a stored derivative of an older original, even one no purge removed', async () => {
    await put('t/orphan.png', BLUE);
    // What a render that died between storing and re-checking leaves behind: an old-version derivative.
    const derivative = 't/orphan.png/w36-hauto-q80-cover.webp';
    const red = await sharp(await solid(RED))
      .resize({ width: 36 })
      .webp()
      .toBuffer();
    await api.storage.store.putDerivative(derivative, red, 'image/webp', 'public, max-age=31536000, immutable', {
      metadata: { [SOURCE_REVISION_META]: 'an-older-revision' },
    });
    const before = transforms;
    expect(await image(await get('/t/orphan.png', 'width=36'))).to.equal('blue');
    expect(transforms).to.equal(before + 1);
    const stored = await api.storage.store.getDerivative(derivative);
    expect(await colourOf(stored?.body ?? Buffer.alloc(0))).to.equal('blue');
    // And the fresh one is then served from storage without its revision header.
    const hit = await get('/t/orphan.png', 'width=36');
    expect(transforms).to.equal(before + 1);
    expect(hit.headers[`x-amz-meta-${SOURCE_REVISION_META}`]).to.equal(undefined);
  });

  it('never serves a stored object that records no revision as fresh: a planted "derivative" is rendered over', async () => {
    await put('t/planted.png', BLUE);
    // What a write to the derivatives bucket by anything but a render leaves: no recorded revision.
    const derivative = 't/planted.png/w34-hauto-q80-cover.webp';
    await api.storage.store.putDerivative(
      derivative,
      Buffer.from('<html><script>alert(1)</script></html>'),
      'text/html',
      'public, max-age=31536000, immutable',
    );
    const before = transforms;
    const response = await get('/t/planted.png', 'width=34');
    expect(response.headers['content-type']).to.equal('image/webp');
    expect(await image(response)).to.equal('blue');
    expect(transforms, 'rendered again').to.equal(before + 1);
    const stored = await api.storage.store.getDerivative(derivative);
    expect(stored?.contentType).to.equal('image/webp');
    expect(stored?.metadata[SOURCE_REVISION_META]).to.equal(
      originalRevision((await api.storage.store.headOriginal('t/planted.png'))?.metadata ?? {}),
    );
  });

  it('removes a stored object that records no revision once its original is gone', async () => {
    const derivative = 't/planted-gone.png/w32-hauto-q80-cover.webp';
    await api.storage.store.putDerivative(derivative, Buffer.from('<html></html>'), 'text/html', 'no-cache');
    expect((await get('/t/planted-gone.png', 'width=32')).status).to.equal(404);
    expect(await api.storage.store.getDerivative(derivative)).to.equal(undefined);
  });

  it('answers 404 for a stored derivative whose original is gone, and removes it', async () => {
    const derivative = 't/gone.png/w30-hauto-q80-cover.webp';
    await api.storage.store.putDerivative(
      derivative,
      await sharp(await solid(RED))
        .webp()
        .toBuffer(),
      'image/webp',
      'public, max-age=31536000, immutable',
      { metadata: { [SOURCE_REVISION_META]: 'of-a-deleted-original' } },
    );
    expect((await get('/t/gone.png', 'width=30')).status).to.equal(404);
    expect(await api.storage.store.getDerivative(derivative)).to.equal(undefined);
  });
});
