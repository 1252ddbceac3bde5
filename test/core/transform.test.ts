import { expect } from 'chai';
import sharp from 'sharp';
import { createConfig } from '../../src/core/config.js';
import { HttpError } from '../../src/core/errors.js';
import type { Variant } from '../../src/core/params.js';
import { inspectImage, sharpFailure, transformImage } from '../../src/core/transform.js';
import { fixture, referenceResize, similarity } from '../helpers/images.js';

const config = createConfig();
const variant = (v: Partial<Variant>): Variant => ({ quality: 80, fit: 'cover', format: 'webp', ...v });

/**
 * SSIM threshold. Measured on the fixtures at 300×200, q80: correct outputs
 * score 0.94–0.99 against a lossless reference resize (JPEG lowest); a wrong
 * crop (fill instead of cover) scores 0.38–0.88, a missing EXIF rotation 0.10,
 * a mirrored image 0.10–0.21. 0.9 sits between the two groups.
 */
const SIMILAR = 0.9;

async function expectCode(promise: Promise<unknown>, code: string, status: number) {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected ${code}`).to.be.instanceOf(HttpError);
  expect((caught as HttpError).code).to.equal(code);
  expect((caught as HttpError).status).to.equal(status);
}

describe('core/transform', () => {
  describe('resizing matches a reference resize of the same photo', () => {
    const cases: [string, Partial<Variant>][] = [
      ['photos/mountains.jpg', { width: 400, height: 300, fit: 'cover', format: 'webp' }],
      ['photos/fig.jpg', { width: 300, height: 200, fit: 'cover', format: 'jpeg' }],
      ['photos/forest-stream.jpg', { width: 300, height: 300, fit: 'contain', format: 'png' }],
      ['photos/paintbrushes.jpg', { width: 250, height: 400, fit: 'fill', format: 'avif' }],
      ['photos/dogs-portrait.jpg', { width: 320, format: 'webp' }],
      ['edge/cmyk.jpg', { width: 300, height: 200, format: 'jpeg' }],
      ['edge/grayscale.jpg', { width: 200, format: 'webp' }],
      ['edge/16bit.png', { width: 200, format: 'png' }],
      ['edge/large.tiff', { width: 120, format: 'jpeg' }],
      ['edge/photo.avif', { width: 160, format: 'webp' }],
    ];
    for (const [file, v] of cases) {
      it(`${file} → ${JSON.stringify(v)}`, async () => {
        const input = fixture(file);
        const out = await transformImage(input, variant(v), config);
        const meta = await sharp(out.data).metadata();
        expect(meta.format).to.equal(out.format === 'avif' ? 'heif' : out.format);
        expect(meta.width).to.equal(out.width);
        const fit = v.width !== undefined && v.height !== undefined ? (v.fit ?? 'cover') : 'inside';
        // contain pads with bg, white by default.
        const reference = await referenceResize(input, {
          width: v.width,
          height: v.height,
          fit,
          background: '#ffffff',
        });
        const refMeta = await sharp(reference).metadata();
        expect([out.width, out.height]).to.deep.equal([refMeta.width, refMeta.height]);
        expect(await similarity(reference, out.data)).to.be.above(SIMILAR);
      });
    }
  });

  it('applies EXIF orientation 6: a stored 300×200 photo comes out 200×300 and matches the rotated reference', async () => {
    const input = fixture('edge/exif-orientation-6.jpg');
    const info = await inspectImage(input, config);
    expect([info.width, info.height]).to.deep.equal([200, 300]);
    const out = await transformImage(input, variant({ width: 100 }), config);
    expect([out.width, out.height]).to.deep.equal([100, 150]);
    const unrotated = await sharp(input).resize({ width: 100, height: 150, fit: 'fill' }).png().toBuffer();
    const reference = await referenceResize(input, { width: 100 });
    expect(await similarity(reference, out.data)).to.be.above(SIMILAR);
    expect(await similarity(unrotated, out.data)).to.be.below(0.5);
  });

  it('never enlarges past the original', async () => {
    const input = fixture('edge/grayscale.jpg');
    const { width, height } = await sharp(input).metadata();
    const out = await transformImage(input, variant({ width: 4000 }), config);
    expect([out.width, out.height]).to.deep.equal([width, height]);
  });

  it('caps an unsized output at maxDimension, keeping the aspect ratio', async () => {
    const small = createConfig({ limits: { maxDimension: 256 } });
    const out = await transformImage(fixture('photos/mountains.jpg'), variant({}), small);
    expect(Math.max(out.width, out.height)).to.equal(256);
  });

  it('strips metadata but keeps an sRGB ICC profile', async () => {
    const out = await transformImage(fixture('edge/cmyk.jpg'), variant({ width: 100, format: 'jpeg' }), config);
    const meta = await sharp(out.data).metadata();
    expect(meta.space).to.equal('srgb');
    expect(meta.exif).to.equal(undefined);
    expect(meta.icc).to.be.instanceOf(Buffer);
    expect(meta.orientation).to.equal(undefined);
  });

  it('keeps alpha in WebP and PNG, flattens it on white in JPEG', async () => {
    const input = fixture('edge/alpha.png');
    for (const format of ['webp', 'png'] as const) {
      const out = await transformImage(input, variant({ width: 100, format }), config);
      expect((await sharp(out.data).metadata()).hasAlpha, format).to.equal(true);
    }
    const jpeg = await transformImage(input, variant({ width: 100, format: 'jpeg' }), config);
    const onWhite = await sharp(input).flatten({ background: '#ffffff' }).resize({ width: 100 }).png().toBuffer();
    const onBlack = await sharp(input).flatten({ background: '#000000' }).resize({ width: 100 }).png().toBuffer();
    expect(await similarity(onWhite, jpeg.data)).to.be.above(SIMILAR);
    expect(await similarity(onBlack, jpeg.data)).to.be.below(SIMILAR);
  });

  it('format=auto without WebP keeps JPEG and PNG, and turns other inputs into PNG (alpha) or JPEG', async () => {
    const cases: [string, string][] = [
      ['photos/fig.jpg', 'jpeg'],
      ['photos/dogs-portrait.png', 'png'],
      ['edge/large.tiff', 'jpeg'],
      ['edge/photo.webp', 'jpeg'],
      ['edge/animated.gif', 'png'],
    ];
    for (const [file, expected] of cases) {
      const input = fixture(file);
      const info = await inspectImage(input, config);
      const out = await transformImage(input, variant({ width: 64, format: 'original' }), config);
      expect(out.format, `${file} (${info.format}, alpha ${info.hasAlpha})`).to.equal(
        info.format === 'gif' && !info.hasAlpha ? 'jpeg' : expected,
      );
    }
  });

  it('keeps animation when the output is WebP and takes the first frame otherwise', async () => {
    for (const file of ['edge/animated.gif', 'edge/animated.webp']) {
      const input = fixture(file);
      const pages = (await sharp(input).metadata()).pages ?? 1;
      expect(pages).to.be.greaterThan(2);
      const webp = await transformImage(input, variant({ width: 50, format: 'webp' }), config);
      expect((await sharp(webp.data).metadata()).pages).to.equal(pages);
      expect(webp.width).to.equal(50);
      const png = await transformImage(input, variant({ width: 50, format: 'png' }), config);
      expect((await sharp(png.data).metadata()).pages ?? 1).to.equal(1);
    }
  });

  it('encodes AVIF at low effort (it reports as heif/av1)', async () => {
    const out = await transformImage(fixture('photos/fig.jpg'), variant({ width: 200, format: 'avif' }), config);
    const meta = await sharp(out.data).metadata();
    expect(meta.format).to.equal('heif');
    expect(meta.compression).to.equal('av1');
    expect(out.contentType).to.equal('image/avif');
  });

  describe('time budget', () => {
    it("sharp's own timeout error is 503 busy with Retry-After, not a corrupt image (thumbhash and transform share the mapping)", () => {
      // libvips' text when sharp's `timeout` stops a pipeline (sharp src/common.cc: vips_error("timeout",
      // "%d%% complete")); the real stop is the next test's, whose time depends on the machine.
      const mapped = sharpFailure(new Error('timeout: 23% complete\n'));
      expect(mapped.code).to.equal('busy');
      expect(mapped.status).to.equal(503);
      expect(mapped.headers['Retry-After']).to.equal('1');
      expect(sharpFailure(new Error('VipsJpeg: premature end of input file')).code).to.equal('corrupt_image');
      expect(sharpFailure(new Error('Input image exceeds pixel limit')).code).to.equal('too_large');
      const contractError = new HttpError('too_large', 'x');
      expect(sharpFailure(contractError)).to.equal(contractError);
    });

    it('a pipeline on a large input stops when its budget ends: 503 busy, and libvips goes idle', async () => {
      // 5120×2880 → a 4096×2304 PNG takes seconds; the budget is 50 ms, so sharp's
      // timeout (whole seconds, at least 1) must stop it rather than let it finish.
      const input = fixture('bench/seeding-5120x2880.jpg');
      const info = await inspectImage(input, config);
      const caught = await transformImage(input, variant({ format: 'png' }), config, info, {
        timeoutMs: 50,
      }).catch((error: unknown) => error);
      expect(caught).to.be.instanceOf(HttpError);
      expect((caught as HttpError).code).to.equal('busy');
      expect((caught as HttpError).status).to.equal(503);
      expect((caught as HttpError).headers['Retry-After']).to.equal('1');
      // Nothing keeps running after the answer: sharp's queue and workers drain.
      let counters = sharp.counters();
      for (let i = 0; i < 100 && (counters.queue > 0 || counters.process > 0); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        counters = sharp.counters();
      }
      expect(counters).to.deep.equal({ queue: 0, process: 0 });
    });

    it('no budget left → 503 busy before any work starts', () =>
      expectCode(
        transformImage(fixture('photos/fig.jpg'), variant({ width: 10 }), config, undefined, { timeoutMs: 0 }),
        'busy',
        503,
      ));
  });

  describe('refused inputs', () => {
    it('SVG → 415', () =>
      expectCode(transformImage(fixture('edge/image.svg'), variant({}), config), 'unsupported_format', 415));
    it('text → 415', () =>
      expectCode(transformImage(fixture('edge/not-an-image.jpg'), variant({}), config), 'unsupported_format', 415));
    it('zero bytes → 422', () =>
      expectCode(transformImage(fixture('edge/zero.jpg'), variant({}), config), 'corrupt_image', 422));
    it('truncated JPEG → 422', () =>
      expectCode(transformImage(fixture('edge/truncated.jpg'), variant({ width: 100 }), config), 'corrupt_image', 422));
    it('decompression bomb → 413 from the header, without decoding', () =>
      expectCode(inspectImage(fixture('edge/bomb.png'), config), 'too_large', 413));
    it('too many pixels over all frames → 413 saying frames × size and megapixels', async () => {
      const input = fixture('edge/animated.gif');
      const { width, height, pageHeight, pages } = await sharp(input).metadata();
      const limited = createConfig({ limits: { maxInputPixels: 10_000 } });
      const caught = await inspectImage(input, limited).catch((error: unknown) => error);
      expect(caught).to.be.instanceOf(HttpError);
      const frameHeight = pageHeight ?? height ?? 0;
      const total = Number((((width ?? 0) * frameHeight * (pages ?? 0)) / 1e6).toPrecision(3));
      expect((caught as HttpError).message).to.equal(
        `The image has ${pages} frames of ${width}×${frameHeight} pixels (${total} MP); the limit is 0.01 MP`,
      );
    });
    it('over maxOriginalBytes → 413', () =>
      expectCode(
        inspectImage(fixture('photos/fig.jpg'), createConfig({ limits: { maxOriginalBytes: 1000 } })),
        'too_large',
        413,
      ));
  });
});
