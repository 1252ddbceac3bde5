import { expect } from 'chai';
import { STEPS } from '../../src/core/params/registry.js';
import { readNdjson } from '../../web/src/ndjson.js';
import {
  cacheStatus,
  defaultParams,
  expectedSize,
  parseServerTiming,
  parseWidthList,
  type StageSettings,
  savingPercent,
  srcsetSnippet,
  srcsetWidths,
  ssim,
  variantUrl,
} from '../../web/src/variant.js';

describe('web/src/variant', () => {
  const image = { key: 'photos/cat.jpg', width: 1500, height: 1000 };

  it('leaves defaults out of the URL and writes the rest', () => {
    expect(variantUrl('photos/cat.jpg', defaultParams())).to.equal('/photos/cat.jpg');
    expect(
      variantUrl('photos/cat.jpg', { ...defaultParams(), width: 400, format: 'webp', quality: 60, dpr: 2 }),
    ).to.equal('/photos/cat.jpg?width=400&format=webp&quality=60&dpr=2');
    // fit only matters with a size.
    expect(variantUrl('a.jpg', { ...defaultParams(), fit: 'contain' })).to.equal('/a.jpg');
    expect(variantUrl('a.jpg', { ...defaultParams(), width: 10, height: 20, fit: 'contain' })).to.equal(
      '/a.jpg?width=10&height=20&fit=contain',
    );
  });

  it('writes the crop and effect parameters, leaving their defaults out', () => {
    const p = defaultParams();
    expect(variantUrl('a.jpg', { ...p, rotate: 0, bg: 'ffffffff', gravity: 'focal' })).to.equal('/a.jpg');
    expect(
      variantUrl('a.jpg', {
        ...p,
        width: 100,
        height: 50,
        gravity: 'attention',
        rect: { x: 1, y: 2, width: 30, height: 40 },
        rotate: 90,
        flip: 'hv',
        blur: 2.5,
        sharpen: 1,
        bg: '00000080',
        trim: 10,
      }),
    ).to.equal(
      '/a.jpg?width=100&height=50&gravity=attention&rect=1,2,30,40&rotate=90&flip=hv&blur=2.5&sharpen=1&bg=00000080&trim=10',
    );
    // fx/fy imply gravity=focal: no gravity written beside them; an opaque bg is written as rrggbb.
    expect(variantUrl('a.jpg', { ...p, fx: 0.2, gravity: 'attention', bg: '102030ff' })).to.equal(
      '/a.jpg?fx=0.2&bg=102030',
    );
  });

  it('leaves every step at its neutral value out of the URL, the neutral taken from its descriptor', () => {
    const neutral = STEPS.filter((d) => 'neutral' in d);
    expect(neutral.length).to.be.greaterThan(1);
    for (const d of neutral) {
      const params = { ...defaultParams(), width: 10, [d.name]: (d as { neutral: unknown }).neutral };
      expect(variantUrl('a.jpg', params), d.name).to.equal('/a.jpg?width=10');
    }
  });

  it("writes a preset and only what differs from its expansion, and takes the stage's default gravity", () => {
    const stage: StageSettings = {
      presets: { card: 'width=640&height=360&gravity=attention' },
      presetPolicy: 'open',
      defaultGravity: 'center',
      autoAvif: true,
      maxDimension: 4096,
      defaultQuality: 80,
    };
    const card = { ...defaultParams(), preset: 'card', width: 640, height: 360, gravity: 'attention' as const };
    expect(variantUrl('a.jpg', card, stage)).to.equal('/a.jpg?preset=card');
    expect(variantUrl('a.jpg', { ...card, width: 320, format: 'webp' }, stage)).to.equal(
      '/a.jpg?preset=card&width=320&format=webp',
    );
    expect(variantUrl('a.jpg', { ...defaultParams(), width: 9, height: 9, gravity: 'center' }, stage)).to.equal(
      '/a.jpg?width=9&height=9',
    );
    expect(variantUrl('a.jpg', { ...defaultParams(), width: 9, height: 9, gravity: 'focal' }, stage)).to.equal(
      '/a.jpg?width=9&height=9&gravity=focal',
    );
  });

  it('scores identical pixels 1 and a changed image lower (SSIM)', () => {
    const w = 16;
    const h = 16;
    const a = new Uint8ClampedArray(w * h * 4);
    for (let i = 0; i < w * h; i++) a.set([(i * 37) % 256, (i * 11) % 256, (i * 5) % 256, 255], i * 4);
    const b = a.map((v, i) => (i % 4 === 3 ? v : 255 - v));
    expect(ssim(a, a, w, h)).to.be.closeTo(1, 1e-9);
    expect(ssim(a, b, w, h)).to.be.lessThan(0.5);
    expect(() => ssim(a, new Uint8ClampedArray(4), w, h)).to.throw(/different sizes/);
  });

  it('caps a srcset at the rect and predicts the size of a turned rect', () => {
    const p = { ...defaultParams(), rect: { x: 0, y: 0, width: 700, height: 300 } };
    expect(srcsetSnippet('', image, p).widths).to.deep.equal([320, 640, 700]);
    expect(expectedSize(image, { ...p, rotate: 90 })).to.deep.equal({ width: 300, height: 700 });
  });

  it('predicts the output size without enlarging', () => {
    expect(expectedSize(image, { ...defaultParams(), width: 300 })).to.deep.equal({ width: 300, height: 200 });
    expect(expectedSize(image, { ...defaultParams(), width: 300, dpr: 2 })).to.deep.equal({ width: 600, height: 400 });
    expect(expectedSize(image, { ...defaultParams(), width: 3000 })).to.deep.equal({ width: 1500, height: 1000 });
    expect(expectedSize(image, { ...defaultParams(), width: 300, height: 300 })).to.deep.equal({
      width: 300,
      height: 300,
    });
    expect(expectedSize(image, { ...defaultParams(), width: 300, height: 300, fit: 'inside' })).to.deep.equal({
      width: 300,
      height: 200,
    });
    expect(expectedSize(image, { ...defaultParams(), width: 300, height: 300, fit: 'outside' })).to.deep.equal({
      width: 450,
      height: 300,
    });
  });

  it('caps srcset widths at the original width', () => {
    expect(srcsetWidths(1500)).to.deep.equal([320, 640, 960, 1280, 1500]);
    expect(srcsetWidths(200)).to.deep.equal([200]);
    expect(parseWidthList('320, 640 x 0 -5 99999 1280')).to.deep.equal([320, 640, 1280]);
  });

  it('builds a srcset snippet with one URL per width, height scaled when both are set', () => {
    const snippet = srcsetSnippet(
      'https://cdn.example',
      image,
      { ...defaultParams(), width: 800, height: 400, format: 'webp', dpr: 2 },
      { sizes: '50vw' },
    );
    expect(snippet.widths).to.deep.equal([320, 640, 960, 1280, 1500]);
    expect(snippet.srcset).to.include('https://cdn.example/photos/cat.jpg?width=320&height=160&format=webp 320w');
    expect(snippet.srcset).to.include('width=1500&height=750&format=webp 1500w');
    expect(snippet.srcset).not.to.include('dpr=');
    expect(snippet.html).to.include('sizes="50vw"');
    expect(snippet.html).to.match(
      /^<img src="https:\/\/cdn\.example\/photos\/cat\.jpg\?width=960&amp;height=480&amp;format=webp"/,
    );
  });

  it('parses Server-Timing and X-Cache', () => {
    expect(
      parseServerTiming('fetch;dur=12.5, decrypt;dur=0.4, transform;desc="sharp";dur=30, store;dur=2'),
    ).to.deep.equal([
      { name: 'fetch', dur: 12.5 },
      { name: 'decrypt', dur: 0.4 },
      { name: 'transform', dur: 30, desc: 'sharp' },
      { name: 'store', dur: 2 },
    ]);
    expect(parseServerTiming(null)).to.deep.equal([]);
    expect(cacheStatus('Hit from cloudfront')).to.equal('hit');
    expect(cacheStatus('Miss from cloudfront')).to.equal('miss');
    expect(cacheStatus(null)).to.equal('unknown');
    expect(savingPercent(200, 150)).to.equal(25);
  });
});

describe('web/src/ndjson', () => {
  it('yields each line as it arrives, whatever the chunking', async () => {
    const text = '{"key":"a"}\n{"key":"b"}\n\n{"key":"cé"}';
    const bytes = new TextEncoder().encode(text);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        // Split inside a line and inside a multi-byte character.
        for (let i = 0; i < bytes.length; i += 5) controller.enqueue(bytes.slice(i, i + 5));
        controller.close();
      },
    });
    const keys: string[] = [];
    for await (const item of readNdjson<{ key: string }>(body)) keys.push(item.key);
    expect(keys).to.deep.equal(['a', 'b', 'cé']);
  });
});

describe('web/variant shares the server rules', () => {
  it('takes parameter names and defaults from src/core (param-rules.ts, config.ts), not copies', async () => {
    const rules = await import('../../src/core/param-rules.js');
    const { DEFAULT_CONFIG } = await import('../../src/core/config.js');
    const variant = await import('../../web/src/variant.js');
    expect(variant.FITS).to.equal(rules.FIT_MODES);
    expect(variant.FORMATS).to.equal(rules.REQUESTED_FORMATS);
    expect(variant.DEFAULT_QUALITY).to.equal(DEFAULT_CONFIG.defaultQuality);
    expect(variant.MAX_DIMENSION).to.equal(DEFAULT_CONFIG.limits.maxDimension);
    expect(variant.IMAGE_PARAM_NAMES).to.include.members(['gravity', 'fx', 'fy', 'rect', 'preset']);
  });
});
