import { expect } from 'chai';
import sharp from 'sharp';
import { createConfig } from '../../src/core/config.js';
import { HttpError } from '../../src/core/errors.js';
import { canonicalVariant, type Gravity, parseImageParams, type Variant } from '../../src/core/params.js';
import { transformImage } from '../../src/core/transform.js';
import { coordinateImage, fixture, pixelAt, similarity, sourceOf } from '../helpers/images.js';

const config = createConfig();
const variant = (v: Partial<Variant>): Variant => ({ quality: 80, fit: 'cover', format: 'png', ...v });

/** Source coordinates read back from a lossless output: within 2 px of the truth (one step of R/G is 1.6 px). */
const NEAR = 2.5;

async function caught(promise: Promise<unknown>): Promise<HttpError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).to.be.instanceOf(HttpError);
  return error as HttpError;
}

describe('core/transform: crops and effects', () => {
  // 400×300: every pixel names its own coordinates.
  let source: Buffer;
  before(async () => {
    source = await coordinateImage(400, 300);
  });
  const from = (out: Buffer, x: number, y: number) => sourceOf(out, x, y, 400, 300);

  describe('gravity keeps the named part in a cover crop', () => {
    // 100×300 and 400×100 crops happen at scale 1: the offset reads back exactly.
    const cases: [Gravity, { width: number; height: number }, 'x' | 'y', number][] = [
      ['left', { width: 100, height: 300 }, 'x', 0],
      ['center', { width: 100, height: 300 }, 'x', 150],
      ['right', { width: 100, height: 300 }, 'x', 300],
      ['top', { width: 400, height: 100 }, 'y', 0],
      ['center', { width: 400, height: 100 }, 'y', 100],
      ['bottom', { width: 400, height: 100 }, 'y', 200],
      ['top-left', { width: 100, height: 300 }, 'x', 0],
      ['top-left', { width: 400, height: 100 }, 'y', 0],
      ['top-right', { width: 100, height: 300 }, 'x', 300],
      ['top-right', { width: 400, height: 100 }, 'y', 0],
      ['bottom-left', { width: 100, height: 300 }, 'x', 0],
      ['bottom-left', { width: 400, height: 100 }, 'y', 200],
      ['bottom-right', { width: 100, height: 300 }, 'x', 300],
      ['bottom-right', { width: 400, height: 100 }, 'y', 200],
    ];
    for (const [gravity, size, axis, offset] of cases) {
      it(`${gravity} at ${size.width}×${size.height}: the crop starts at ${axis}=${offset}`, async () => {
        const out = await transformImage(source, variant({ ...size, gravity }), config);
        expect([out.width, out.height]).to.deep.equal([size.width, size.height]);
        expect((await from(out.data, 0, 0))[axis]).to.be.closeTo(offset, NEAR);
      });
    }

    it('without gravity the stage default applies (focal: the centre when no point is stored)', async () => {
      const out = await transformImage(source, variant({ width: 100, height: 300 }), config);
      expect((await from(out.data, 0, 0)).x).to.be.closeTo(150, NEAR);
      // The URL as params.ts canonicalizes it for a stage whose default is `left`.
      const leftStage = createConfig({ defaultGravity: 'left' });
      const url = (query: string) =>
        canonicalVariant(parseImageParams(`${query}&format=png`, leftStage), 'original', leftStage);
      const left = await transformImage(source, url('width=100&height=300'), leftStage);
      expect((await from(left.data, 0, 0)).x).to.be.closeTo(0, NEAR);
      const focal = await transformImage(source, url('width=100&height=300&gravity=focal'), leftStage);
      expect((await from(focal.data, 0, 0)).x).to.be.closeTo(150, NEAR);
    });

    it('gravity places the image in contain padding, which is bg', async () => {
      const red = 'ff0000ff';
      const top = await transformImage(
        source,
        variant({ width: 200, height: 200, fit: 'contain', gravity: 'top', background: red }),
        config,
      );
      expect([top.width, top.height]).to.deep.equal([200, 200]);
      // 400×300 → 200×150 at the top, 50 rows of red below.
      expect((await from(top.data, 0, 0)).y).to.be.closeTo(0, NEAR);
      expect(await pixelAt(top.data, 100, 190)).to.deep.equal([255, 0, 0, 255]);
      const centred = await transformImage(
        source,
        variant({ width: 200, height: 200, fit: 'contain', background: red }),
        config,
      );
      expect(await pixelAt(centred.data, 100, 5)).to.deep.equal([255, 0, 0, 255]);
      expect(await pixelAt(centred.data, 100, 195)).to.deep.equal([255, 0, 0, 255]);
    });

    it('contain padding keeps bg alpha where the format has alpha, and is opaque bg in JPEG', async () => {
      const clear = await transformImage(
        source,
        variant({ width: 200, height: 200, fit: 'contain', background: '00ff0000' }),
        config,
      );
      expect((await pixelAt(clear.data, 100, 5))[3]).to.equal(0);
      const webp = await transformImage(
        source,
        variant({ width: 200, height: 200, fit: 'contain', background: '00ff0000', format: 'webp' }),
        config,
      );
      expect((await pixelAt(webp.data, 100, 5))[3]).to.equal(0);
      const jpeg = await transformImage(
        source,
        variant({ width: 200, height: 200, fit: 'contain', background: '0000ffff', format: 'jpeg' }),
        config,
      );
      const [r, g, b] = await pixelAt(jpeg.data, 100, 5);
      expect(r).to.be.below(20);
      expect(g).to.be.below(20);
      expect(b).to.be.above(235);
    });
  });

  describe('focal point', () => {
    it('centres the crop on fx/fy, clamped into the image', async () => {
      const out = await transformImage(source, variant({ width: 100, height: 300, focal: { x: 0.8, y: 0.5 } }), config);
      // The box 100 wide around x = 320 starts at 270.
      expect((await from(out.data, 0, 0)).x).to.be.closeTo(270, NEAR);
      const edge = await transformImage(
        source,
        variant({ width: 100, height: 300, focal: { x: 0.99, y: 0.5 } }),
        config,
      );
      expect((await from(edge.data, 0, 0)).x).to.be.closeTo(300, NEAR);
    });

    it('takes the stored point when the URL gives none, and the URL’s point over the stored one', async () => {
      const stored = { storedFocalPoint: { x: 0.1, y: 0.5 } };
      const out = await transformImage(source, variant({ width: 100, height: 300 }), config, undefined, stored);
      expect((await from(out.data, 0, 0)).x).to.be.closeTo(0, NEAR);
      const explicit = await transformImage(
        source,
        variant({ width: 100, height: 300, focal: { x: 0.5, y: 0.5 } }),
        config,
        undefined,
        stored,
      );
      expect((await from(explicit.data, 0, 0)).x).to.be.closeTo(150, NEAR);
      // A named gravity ignores the stored point.
      const named = await transformImage(
        source,
        variant({ width: 100, height: 300, gravity: 'right' }),
        config,
        undefined,
        stored,
      );
      expect((await from(named.data, 0, 0)).x).to.be.closeTo(300, NEAR);
    });

    it('scales, then crops: the output centre is the focal point', async () => {
      // 400×300 → 60×90: scale 0.3 gives 120×90, a 60 px box around x = 0.3·300 = 90.
      const out = await transformImage(source, variant({ width: 60, height: 90, focal: { x: 0.75, y: 0.2 } }), config);
      expect([out.width, out.height]).to.deep.equal([60, 90]);
      const centre = await from(out.data, 30, 45);
      expect(centre.x).to.be.closeTo(300, (2 * NEAR) / 0.3);
      expect(centre.y).to.be.closeTo(150, (2 * NEAR) / 0.3);
    });

    // The point is in the displayed original; it must follow rect, rotate and flip.
    const rect = { x: 50, y: 30, width: 300, height: 240 };
    for (const rotate of [undefined, 90, 180, 270] as const) {
      for (const flip of [undefined, 'h', 'v', 'hv'] as const) {
        it(`follows rect, rotate=${rotate ?? 0}, flip=${flip ?? 'none'}`, async () => {
          const focal = { x: 0.5, y: 0.45 }; // (200, 135) in the original
          const out = await transformImage(
            source,
            variant({ width: 40, height: 40, focal, rect, rotate, flip }),
            config,
          );
          expect([out.width, out.height]).to.deep.equal([40, 40]);
          // The 300×240 region's long side is the original's x whatever the turn: the
          // crop moves along x to the point, and spans y (its centre is the rect's, 150).
          const centre = await from(out.data, 20, 20);
          expect(centre.x, 'x').to.be.closeTo(200, 8);
          expect(centre.y, 'y').to.be.closeTo(150, 8);
          // Orientation: the output's corners come from the same corners as in a
          // reference that does rect → rotate → flip step by step.
          let reference = await sharp(source)
            .extract({ left: rect.x, top: rect.y, width: rect.width, height: rect.height })
            .png()
            .toBuffer();
          if (rotate) reference = await sharp(reference).rotate(rotate).png().toBuffer();
          if (flip?.includes('h')) reference = await sharp(reference).flop().png().toBuffer();
          if (flip?.includes('v')) reference = await sharp(reference).flip().png().toBuffer();
          const refCorner = await from(reference, 0, 0);
          const outCorner = await from(out.data, 0, 0);
          expect(Math.sign(outCorner.x - 200), 'corner x side').to.equal(Math.sign(refCorner.x - 200));
          expect(Math.sign(outCorner.y - 150), 'corner y side').to.equal(Math.sign(refCorner.y - 150));
        });
      }
    }
  });

  describe('rect', () => {
    it('cuts the region out first, in the original’s pixels', async () => {
      const out = await transformImage(source, variant({ rect: { x: 100, y: 50, width: 200, height: 100 } }), config);
      expect([out.width, out.height]).to.deep.equal([200, 100]);
      const first = await from(out.data, 0, 0);
      const last = await from(out.data, 199, 99);
      expect([first.x, first.y, last.x, last.y].map(Math.round)).to.satisfy((v: number[]) =>
        [100, 50, 299, 149].every((expected, i) => Math.abs((v[i] as number) - expected) <= NEAR),
      );
    });

    it('then resizes the region', async () => {
      const out = await transformImage(
        source,
        variant({ rect: { x: 200, y: 0, width: 200, height: 300 }, width: 100 }),
        config,
      );
      expect([out.width, out.height]).to.deep.equal([100, 150]);
      expect((await from(out.data, 0, 0)).x).to.be.closeTo(200, 3);
    });

    it('outside the image → 400 invalid_param naming rect and the image size', async () => {
      const error = await caught(
        transformImage(source, variant({ rect: { x: 300, y: 0, width: 101, height: 10 } }), config),
      );
      expect(error.status).to.equal(400);
      expect(error.code).to.equal('invalid_param');
      expect(error.message)
        .to.match(/rect/)
        .and.match(/400×300/);
    });

    it('is in displayed pixels: after EXIF orientation', async () => {
      const input = fixture('edge/exif-orientation-6.jpg'); // stored 300×200, displayed 200×300
      const out = await transformImage(input, variant({ rect: { x: 0, y: 150, width: 200, height: 150 } }), config);
      expect([out.width, out.height]).to.deep.equal([200, 150]);
      const error = await caught(
        transformImage(input, variant({ rect: { x: 0, y: 0, width: 300, height: 10 } }), config),
      );
      expect(error.code).to.equal('invalid_param');
    });
  });

  describe('rotate and flip', () => {
    const corners: [Partial<Variant>, [number, number], { x: number; y: number }][] = [
      // [variant, output size, where the output's top-left pixel comes from]
      [{ rotate: 90 }, [300, 400], { x: 0, y: 299 }],
      [{ rotate: 180 }, [400, 300], { x: 399, y: 299 }],
      [{ rotate: 270 }, [300, 400], { x: 399, y: 0 }],
      [{ flip: 'h' }, [400, 300], { x: 399, y: 0 }],
      [{ flip: 'v' }, [400, 300], { x: 0, y: 299 }],
      [{ flip: 'hv' }, [400, 300], { x: 399, y: 299 }],
      // rotate first, then mirror the rotated picture
      [{ rotate: 90, flip: 'h' }, [300, 400], { x: 0, y: 0 }],
      [{ rotate: 90, flip: 'v' }, [300, 400], { x: 399, y: 299 }],
    ];
    for (const [v, size, corner] of corners) {
      it(`${JSON.stringify(v)}: ${size.join('×')}, top-left from (${corner.x}, ${corner.y})`, async () => {
        const out = await transformImage(source, variant(v), config);
        expect([out.width, out.height]).to.deep.equal(size);
        const got = await from(out.data, 0, 0);
        expect(got.x).to.be.closeTo(corner.x, NEAR);
        expect(got.y).to.be.closeTo(corner.y, NEAR);
      });
    }

    it('rotates after EXIF orientation and before the resize', async () => {
      const input = fixture('edge/exif-orientation-6.jpg'); // displayed 200×300
      const out = await transformImage(input, variant({ rotate: 90, width: 150 }), config);
      expect([out.width, out.height]).to.deep.equal([150, 100]);
    });
  });

  describe('trim', () => {
    it('removes a uniform border, then the rest of the pipeline runs on what is left', async () => {
      const bordered = await coordinateImage(200, 150, { border: { size: 37, colour: [10, 200, 30] } });
      const out = await transformImage(bordered, variant({ trim: 10 }), config);
      expect(out.width).to.be.closeTo(200, 1);
      expect(out.height).to.be.closeTo(150, 1);
      const corner = await sourceOf(out.data, 1, 1, 200, 150);
      expect(corner.x).to.be.closeTo(1, NEAR);
      expect(corner.y).to.be.closeTo(1, NEAR);
      // After rect: the border left inside the rect goes.
      const cut = await transformImage(
        bordered,
        variant({ trim: 10, rect: { x: 10, y: 10, width: 150, height: 150 } }),
        config,
      );
      expect(cut.width).to.be.closeTo(150 - 27, 1);
      expect(cut.height).to.be.closeTo(150 - 27, 1);
      // And a focal point is carried through it.
      const crop = await transformImage(
        bordered,
        variant({ trim: 10, width: 50, height: 150, focal: { x: (37 + 180) / 274, y: 0.5 } }),
        config,
      );
      expect((await sourceOf(crop.data, 0, 0, 200, 150)).x).to.be.closeTo(150, NEAR);
    });
  });

  describe('flattening onto bg', () => {
    it('JPEG puts transparent pixels on bg; PNG keeps them transparent', async () => {
      const half = await coordinateImage(200, 100, { transparentLeft: true });
      const jpeg = await transformImage(half, variant({ format: 'jpeg', background: '00ff00ff' }), config);
      const [r, g, b] = await pixelAt(jpeg.data, 40, 50);
      expect(r).to.be.below(20);
      expect(g).to.be.above(235);
      expect(b).to.be.below(20);
      const white = await transformImage(half, variant({ format: 'jpeg' }), config);
      expect((await pixelAt(white.data, 40, 50)).slice(0, 3).every((c) => c > 240)).to.equal(true);
      const png = await transformImage(half, variant({ format: 'png', background: '00ff00ff' }), config);
      expect((await pixelAt(png.data, 40, 50))[3]).to.equal(0);
    });
  });

  describe('on photos, against plain sharp pipelines (SSIM)', () => {
    const photos = ['photos/mountains.jpg', 'photos/dogs-portrait.jpg', 'photos/fig.jpg'];
    for (const file of photos) {
      for (const strategy of ['attention', 'entropy'] as const) {
        it(`${file}: gravity=${strategy} is sharp's ${strategy} crop`, async () => {
          const input = fixture(file);
          const out = await transformImage(input, variant({ width: 300, height: 300, gravity: strategy }), config);
          const reference = await sharp(input)
            .autoOrient()
            .resize({ width: 300, height: 300, fit: 'cover', position: strategy })
            .png()
            .toBuffer();
          expect(await similarity(reference, out.data)).to.be.above(0.97);
        });
      }
    }

    it('a smart crop differs from the centre crop where the subject is off-centre', async () => {
      // dogs-portrait (portrait, subject low) cut to a 3:1 strip: the two crops share little.
      const input = fixture('photos/dogs-portrait.jpg');
      const smart = await transformImage(input, variant({ width: 300, height: 100, gravity: 'attention' }), config);
      const centre = await transformImage(input, variant({ width: 300, height: 100, gravity: 'center' }), config);
      expect(await similarity(centre.data, smart.data)).to.be.below(0.9);
    });

    for (const file of photos) {
      it(`${file}: blur and sharpen are sharp's, in output pixels, after the resize`, async () => {
        const input = fixture(file);
        const plain = await sharp(input).autoOrient().resize({ width: 320 }).png().toBuffer();
        const blurred = await transformImage(input, variant({ width: 320, blur: 4 }), config);
        const blurRef = await sharp(input).autoOrient().resize({ width: 320 }).blur(4).png().toBuffer();
        expect(await similarity(blurRef, blurred.data)).to.be.above(0.97);
        expect(await similarity(plain, blurred.data)).to.be.below(0.8);
        const sharpened = await transformImage(input, variant({ width: 320, sharpen: 3 }), config);
        const sharpRef = await sharp(input).autoOrient().resize({ width: 320 }).sharpen({ sigma: 3 }).png().toBuffer();
        expect(await similarity(sharpRef, sharpened.data)).to.be.above(0.97);
        expect(await similarity(plain, sharpened.data)).to.be.below(await similarity(sharpRef, sharpened.data));
      });
    }
  });
});

describe('core/transform: animated input, per operation', () => {
  // The table next to `framesSafe` in transform.ts, checked operation by operation.
  const cases: [string, Partial<Variant>, 'every frame' | 'first frame'][] = [
    ['resize', { width: 80 }, 'every frame'],
    ['cover crop, named gravity', { width: 60, height: 60, gravity: 'left' }, 'every frame'],
    ['focal crop', { width: 60, height: 60, focal: { x: 0.2, y: 0.5 } }, 'every frame'],
    ['contain padding with bg', { width: 100, height: 100, fit: 'contain', background: 'ff000080' }, 'every frame'],
    ['attention', { width: 60, height: 60, gravity: 'attention' }, 'every frame'],
    ['entropy', { width: 60, height: 60, gravity: 'entropy' }, 'every frame'],
    ['rect', { rect: { x: 10, y: 10, width: 100, height: 80 } }, 'every frame'],
    ['trim', { trim: 10 }, 'every frame'],
    ['flip=h', { flip: 'h' }, 'every frame'],
    ['flip=v', { flip: 'v' }, 'first frame'],
    ['rotate=90', { rotate: 90 }, 'first frame'],
    ['rotate=180', { rotate: 180 }, 'first frame'],
    ['blur', { blur: 2 }, 'first frame'],
    ['sharpen', { sharpen: 1 }, 'first frame'],
  ];
  for (const file of ['edge/animated.gif', 'edge/animated.webp']) {
    for (const [name, v, expected] of cases) {
      it(`${file}: ${name} → ${expected}`, async () => {
        const input = fixture(file);
        const pages = (await sharp(input).metadata()).pages ?? 1;
        const out = await transformImage(input, variant({ format: 'webp', ...v }), config);
        const meta = await sharp(out.data).metadata();
        expect(meta.pages ?? 1).to.equal(expected === 'every frame' ? pages : 1);
        if (expected === 'first frame') {
          const first = await sharp(input, { page: 0 }).png().toBuffer();
          const reference = await transformImage(first, variant({ format: 'png', ...v }), config);
          expect(await similarity(reference.data, out.data)).to.be.above(0.9);
          return;
        }
        // Each output frame is the same operation on the same input frame, in order
        // (a smart crop: the box sharp chooses on the first frame, cut from every frame).
        const smart = v.gravity === 'attention' || v.gravity === 'entropy' ? v.gravity : undefined;
        const firstFrame = await sharp(input, { page: 0 }).png().toBuffer();
        const { info: chosen } = await sharp(firstFrame)
          .resize({ width: 60, height: 60, fit: 'cover', position: smart ?? 'centre' })
          .toBuffer({ resolveWithObject: true });
        for (let page = 0; page < pages; page++) {
          const frame = await sharp(input, { page }).png().toBuffer();
          const reference = smart
            ? await sharp(frame)
                .resize({ width: 80, height: 60, fit: 'fill' }) // 160×120 at the cover scale
                .extract({
                  left: Math.abs(chosen.cropOffsetLeft ?? 0),
                  top: Math.abs(chosen.cropOffsetTop ?? 0),
                  width: 60,
                  height: 60,
                })
                .png()
                .toBuffer()
            : (await transformImage(frame, variant({ format: 'png', ...v }), config)).data;
          const got = await sharp(out.data, { page }).png().toBuffer();
          expect(await similarity(reference, got), `frame ${page}`).to.be.above(0.9);
        }
      });
    }
  }

  it('format=auto with AVIF negotiated stays animated, as WebP; explicit AVIF takes the first frame', async () => {
    const input = fixture('edge/animated.gif');
    const pages = (await sharp(input).metadata()).pages ?? 1;
    const auto = await transformImage(input, variant({ width: 80, format: 'auto-avif' }), config);
    expect(auto.format).to.equal('webp');
    expect(auto.contentType).to.equal('image/webp');
    expect((await sharp(auto.data).metadata()).pages).to.equal(pages);
    const avif = await transformImage(input, variant({ width: 80, format: 'avif' }), config);
    expect(avif.format).to.equal('avif');
    expect((await sharp(avif.data).metadata()).pages ?? 1).to.equal(1);
  });
});
