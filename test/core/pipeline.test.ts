import { expect } from 'chai';
import sharp from 'sharp';
import { createConfig } from '../../src/core/config.js';
import { descriptor, FIT_MODES, STEPS } from '../../src/core/params/registry.js';
import type { Variant } from '../../src/core/params.js';
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
});
