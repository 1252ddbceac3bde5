/**
 * Misses decrypt into plaintext buffers reused from miss to miss (core
 * `plaintext-pool`). Reuse must never show one original's pixels for
 * another's: not when two originals have the same byte length (the buffer,
 * and the address libvips sees, are then the same), not after a failed
 * decrypt left unauthenticated bytes in a buffer, not when misses overlap.
 * Against real s3rver, through the origin-response handler.
 */
import { expect } from 'chai';
import sharp from 'sharp';
import { createAdmissionGate } from '../../src/core/admission.js';
import { encryptBuffer } from '../../src/core/envelope.js';
import { createLogger } from '../../src/core/log.js';
import { plaintextPoolFor } from '../../src/core/render.js';
import type { CloudFrontRequest, CloudFrontResultResponse } from '../../src/edge/cloudfront.js';
import { createOriginRequestHandler } from '../../src/edge/origin-request.js';
import { createOriginResponseHandler, type OriginResponseOptions } from '../../src/edge/origin-response.js';
import { originRequestEvent, originResponseEvent } from '../helpers/events.js';
import { putOriginal } from '../helpers/originals.js';
import { startTestStorage, type TestStorage } from '../helpers/storage.js';

type Rgb = [number, number, number];
const RED: Rgb = [220, 20, 30];
const BLUE: Rgb = [20, 40, 210];
const GREEN: Rgb = [30, 200, 40];

/** An uncompressed PNG: every colour at one size gives the same number of bytes. */
function flatPng([r, g, b]: Rgb): Promise<Buffer> {
  return sharp({ create: { width: 240, height: 160, channels: 3, background: { r, g, b } } })
    .png({ compressionLevel: 0, adaptiveFiltering: false })
    .toBuffer();
}

/** The colour at the centre of an answered image. */
async function centre(result: CloudFrontResultResponse): Promise<Rgb> {
  expect(result.status, result.body?.slice(0, 200)).to.equal('200');
  const image = sharp(Buffer.from(result.body ?? '', 'base64'));
  const { width = 0, height = 0 } = await image.metadata();
  const { data } = await image
    .extract({ left: Math.floor(width / 2), top: Math.floor(height / 2), width: 1, height: 1 })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return [data[0] ?? -1, data[1] ?? -1, data[2] ?? -1];
}

function expectColour(actual: Rgb, expected: Rgb, what: string) {
  for (let i = 0; i < 3; i += 1) {
    expect(
      Math.abs((actual[i] as number) - (expected[i] as number)),
      `${what}: ${actual} vs ${expected}`,
    ).to.be.at.most(12);
  }
}

describe('miss path: plaintext buffers reused across misses', () => {
  let storage: TestStorage;
  const sizes = new Set<number>();

  before(async () => {
    storage = await startTestStorage();
    for (const [key, colour] of [
      ['pool/red.png', RED],
      ['pool/blue.png', BLUE],
      ['pool/green.png', GREEN],
    ] as const) {
      const png = await flatPng(colour);
      sizes.add(png.length);
      await putOriginal(storage, key, png);
    }
    // A stored object of the same length whose ciphertext was altered: it must fail authentication.
    const { body, metadata } = encryptBuffer(await flatPng(GREEN), storage.masterKey);
    body[body.length >> 1] = (body[body.length >> 1] as number) ^ 0x40;
    await storage.store.putOriginal('pool/tampered.png', body, metadata, body.length);
  });
  after(() => storage.close());

  function handler(rest: Partial<OriginResponseOptions> = {}) {
    return createOriginResponseHandler({
      config: storage.config,
      store: storage.store,
      masterKey: async () => storage.masterKey,
      logger: createLogger('silent'),
      ...rest,
    });
  }

  async function miss(originResponse: ReturnType<typeof handler>, key: string, width: number) {
    const request = (await createOriginRequestHandler(storage.config)(
      originRequestEvent({ uri: `/${key}`, querystring: `width=${width}&format=png`, accept: 'image/png' }),
    )) as CloudFrontRequest;
    return (await originResponse(originResponseEvent(request, 404))) as CloudFrontResultResponse;
  }

  it('renders each original from its own bytes when originals of the same length follow one another', async () => {
    expect(sizes.size, 'the three PNGs have the same byte length').to.equal(1);
    const originResponse = handler();
    expectColour(await centre(await miss(originResponse, 'pool/red.png', 40)), RED, 'red');
    expect(plaintextPoolFor().idle(), 'the buffer went back to the pool').to.have.length(1);
    expectColour(await centre(await miss(originResponse, 'pool/blue.png', 40)), BLUE, 'blue after red');
    expectColour(await centre(await miss(originResponse, 'pool/red.png', 41)), RED, 'red after blue');
    expectColour(await centre(await miss(originResponse, 'pool/green.png', 40)), GREEN, 'green after red');
    expect(plaintextPoolFor().idle()).to.have.length(1);
  });

  it('answers decrypt_failed for a tampered original, and the next miss in its buffer renders its own pixels', async () => {
    const originResponse = handler();
    const failed = await miss(originResponse, 'pool/tampered.png', 40);
    expect(failed.status).to.equal('502');
    expect(JSON.parse(failed.body ?? '')).to.include({ code: 'decrypt_failed' });
    expect(plaintextPoolFor().idle(), 'the failed miss gave its buffer back').to.have.length(1);
    expectColour(await centre(await miss(originResponse, 'pool/blue.png', 42)), BLUE, 'blue after the tampered one');
  });

  it('gives overlapping misses buffers of their own, with and without an admission gate', async () => {
    const gate = createAdmissionGate({ slots: 2, queue: 8 });
    for (const originResponse of [handler(), handler({ gate })]) {
      const keys = ['pool/red.png', 'pool/blue.png', 'pool/green.png', 'pool/blue.png', 'pool/red.png'];
      const expected = [RED, BLUE, GREEN, BLUE, RED];
      const results = await Promise.all(keys.map((key, i) => miss(originResponse, key, 50 + i)));
      for (const [i, result] of results.entries()) {
        expectColour(await centre(result), expected[i] as Rgb, `${keys[i]} (miss ${i})`);
      }
    }
    expect(plaintextPoolFor(gate).idle().length, 'one idle buffer per slot at most').to.be.within(1, 2);
    expect(plaintextPoolFor().idle()).to.have.length(1);
  });
});
