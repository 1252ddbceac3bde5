import { expect } from 'chai';
import sharp from 'sharp';
import { createConfig } from '../../src/core/config.js';
import { HttpError } from '../../src/core/errors.js';
import { derivativeKey, parseDerivativeKey } from '../../src/core/keys.js';
import { descriptor, FIT_MODES, STEPS } from '../../src/core/params/registry.js';
import { canonicalVariant, parseImageParams, type Variant } from '../../src/core/params.js';
import { fittedSize } from '../../src/core/pipeline/plan.js';
import { PIPELINE } from '../../src/core/pipeline/steps/index.js';
import { transformImage } from '../../src/core/transform.js';
import { defaultParams, expectedSize } from '../../web/src/variant.js';

const config = createConfig();

describe('core/pipeline: the steps and the geometry', () => {
  describe('the step list against the parameter registry', () => {
    it('carries out every step parameter of the registry in exactly one step', () => {
      for (const param of STEPS) {
        const carriers = PIPELINE.filter((step) => (step.fields as readonly string[]).includes(param.variant.field));
        expect(
          carriers.map((step) => step.name),
          param.name,
        ).to.have.length(1);
      }
      const fields = PIPELINE.flatMap((step) => step.fields as readonly string[]);
      expect(new Set(fields).size, 'a field carried out twice').to.equal(fields.length);
      expect(fields.sort()).to.deep.equal(STEPS.map((param) => param.variant.field).sort());
    });

    it('runs the steps after the resize in their descriptors’ order of operations', () => {
      const afterResize = PIPELINE.slice(PIPELINE.findIndex((step) => step.name === 'resize') + 1);
      const orders = afterResize.flatMap((step) =>
        step.fields.map((field) => STEPS.find((param) => param.variant.field === field)?.variant.order ?? -1),
      );
      expect(orders.length).to.be.greaterThan(1);
      expect(orders).to.deep.equal([...orders].sort((a, b) => a - b));
      // Rotate and flip turn the whole frame before the region is cut: plan.ts maps rect and trim into it.
      expect(PIPELINE.slice(0, 3).map((step) => step.name)).to.deep.equal(['orient', 'region', 'resize']);
      expect(descriptor('rect').variant.order).to.be.lessThan(descriptor('rotate').variant.order);
    });
  });

  describe('one fitted size, as sharp answers it', () => {
    // 150×100, resized without enlargement to boxes smaller, larger and across its shape.
    const frame = { width: 150, height: 100 };
    const targets: [number | undefined, number | undefined][] = [
      [200, 50],
      [20, 90],
      [300, 300],
      [30, 30],
      [60, undefined],
      [undefined, 400],
      [undefined, undefined],
    ];
    let source: Buffer;
    before(async () => {
      source = await sharp({ create: { ...frame, channels: 3, background: '#808080' } })
        .png()
        .toBuffer();
    });

    for (const fit of FIT_MODES) {
      it(`fit=${fit}: the plan's size is the size the server's transform answers`, async () => {
        for (const [width, height] of targets) {
          const v: Variant = { quality: 80, fit, format: 'png', width, height };
          const out = await transformImage(source, v, config);
          const got = { width: out.width, height: out.height };
          expect(
            fittedSize(frame, { width, height }, fit, config.limits.maxDimension),
            `${width}×${height}`,
          ).to.deep.equal(got);
          const predicted = expectedSize(
            { key: 'k', width: 150, height: 100 },
            { ...defaultParams(), fit, width, height },
          );
          expect(predicted, `playground ${width}×${height}`).to.deep.equal(got);
        }
      });
    }
  });

  describe('the AVIF cap', () => {
    it('holds on the planned output: fit=outside past a box that is under the cap', async () => {
      const capped = createConfig({ avifMaxOutputPixels: 200 * 200 });
      const input = await sharp({ create: { width: 600, height: 400, channels: 3, background: '#4080c0' } })
        .jpeg()
        .toBuffer();
      const v: Variant = { quality: 80, fit: 'outside', format: 'auto-avif', width: 200, height: 200 };
      const out = await transformImage(input, v, capped);
      expect([out.width, out.height]).to.deep.equal([300, 200]);
      expect(out.format).to.be.oneOf(['webp', 'jpeg']);
      const inside = await transformImage(input, { ...v, fit: 'inside' }, capped);
      expect(inside.format).to.equal('avif');
    });
  });

  describe('brightness', () => {
    const variantOf = (query: string) => canonicalVariant(parseImageParams(query, config), false, config);
    /** Mean of each channel (R, G, B) of an encoded image. */
    const means = async (image: Buffer) => (await sharp(image).stats()).channels.slice(0, 3).map((c) => c.mean);
    let grey: Buffer;
    before(async () => {
      // A drawn mid-grey with a little structure, so every channel has room both ways.
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80">
        <rect width="120" height="80" fill="rgb(118,128,138)"/><circle cx="60" cy="40" r="20" fill="rgb(100,110,120)"/></svg>`;
      grey = await sharp(Buffer.from(svg)).png().toBuffer();
    });

    it('brightness=1.5 raises the mean of every channel; brightness=0.5 lowers it', async () => {
      const plain = await means((await transformImage(grey, variantOf('format=png'), config)).data);
      const brighter = await means((await transformImage(grey, variantOf('format=png&brightness=1.5'), config)).data);
      const darker = await means((await transformImage(grey, variantOf('format=png&brightness=0.5'), config)).data);
      for (let c = 0; c < 3; c++) {
        expect(brighter[c], `channel ${c}`).to.be.above((plain[c] as number) * 1.3);
        expect(darker[c], `channel ${c}`).to.be.below((plain[c] as number) * 0.7);
      }
    });

    it('brightness=1 folds away: the same variant and derivative key as none; a real value is its own key', () => {
      const none = variantOf('width=100&format=webp');
      expect(variantOf('width=100&format=webp&brightness=1')).to.deep.equal(none);
      expect(variantOf('width=100&format=webp&brightness=1.00')).to.deep.equal(none);
      expect(derivativeKey('a.jpg', variantOf('width=100&format=webp&brightness=1'))).to.equal(
        derivativeKey('a.jpg', none),
      );
      const brighter = derivativeKey('a.jpg', variantOf('width=100&format=webp&brightness=1.25'));
      expect(brighter).to.include('-bri1.25');
      expect(parseDerivativeKey(brighter)?.variant.brightness).to.equal(1.25);
    });

    it('refuses a value out of range or with too many decimals with a 400 in sharp’s words', () => {
      for (const [value, message] of [
        ['6', "Expected number between 0 and 5 for brightness but received '6'"],
        ['-1', "Expected number between 0 and 5 for brightness but received '-1'"],
        ['abc', "Expected number between 0 and 5 for brightness but received 'abc'"],
      ]) {
        let error: unknown;
        try {
          parseImageParams(`brightness=${value}`, config);
        } catch (e) {
          error = e;
        }
        expect(error, value).to.be.instanceOf(HttpError);
        expect((error as HttpError).status).to.equal(400);
        expect((error as HttpError).code).to.equal('invalid_param');
        expect((error as HttpError).message).to.equal(message);
      }
      expect(() => parseImageParams('brightness=1.234', config)).to.throw(HttpError, /brightness/);
    });

    it('runs after sharpen, as the order of operations says (sharp alone would modulate first)', async () => {
      const photo = await sharp('fixtures/photos/mountains.jpg').resize({ width: 240 }).png().toBuffer();
      const out = await transformImage(photo, variantOf('format=png&sharpen=3&brightness=1.4'), config);
      // The order of operations done by hand, one pass per operation.
      const sharpened = await sharp(photo).sharpen({ sigma: 3 }).png().toBuffer();
      const expected = await sharp(sharpened).modulate({ brightness: 1.4 }).raw().toBuffer();
      const other = await sharp(await sharp(photo).modulate({ brightness: 1.4 }).png().toBuffer())
        .sharpen({ sigma: 3 })
        .raw()
        .toBuffer();
      const got = await sharp(out.data).removeAlpha().raw().toBuffer();
      const distance = (a: Buffer, b: Buffer) =>
        a.reduce((sum, v, i) => sum + Math.abs(v - (b[i] as number)), 0) / a.length;
      expect(distance(got, expected)).to.be.below(0.5);
      expect(distance(other, expected), 'the two orders differ on this photograph').to.be.above(1);
    });

    it('keeps bg the colour asked for: transparency is flattened after the brightness', async () => {
      const clear = await sharp({
        create: { width: 40, height: 40, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
      })
        .png()
        .toBuffer();
      const out = await transformImage(clear, variantOf('format=jpeg&bg=6080a0&brightness=1.5'), config);
      const [r, g, b] = (await sharp(out.data).stats()).channels.map((c) => c.mean);
      expect(Math.abs((r as number) - 0x60), 'red').to.be.below(4);
      expect(Math.abs((g as number) - 0x80), 'green').to.be.below(4);
      expect(Math.abs((b as number) - 0xa0), 'blue').to.be.below(4);
    });
  });
});
