import { expect } from 'chai';
import sharp from 'sharp';
import { createConfig } from '../../src/core/config.js';
import type { Variant } from '../../src/core/params.js';
import { inspectImage, transformImage } from '../../src/core/transform.js';
import { coordinateImage, fixture, similarity } from '../helpers/images.js';

const config = createConfig();
const variant = (v: Partial<Variant>): Variant => ({ quality: 80, fit: 'cover', format: 'auto-webp', ...v });

/**
 * How much worse (SSIM against a lossless resize, ssim.js) `auto` may look than
 * the mozjpeg JPEG at the same `quality`. Measured at q80 on these photos: AVIF
 * at the mapped quality scores at most 0.003 below the JPEG (forest-stream at
 * 800 px); WebP, where it wins on bytes, scores above it. 0.005 leaves room for
 * encoder noise, and is about a fifth of the gap between q80 and q60 JPEGs.
 */
const SSIM_TOLERANCE = 0.005;

const PHOTOS = [
  'photos/mountains.jpg',
  'photos/dogs-portrait.jpg',
  'photos/forest-stream.jpg',
  'photos/paintbrushes.jpg',
  'photos/fig.jpg',
  'photos/dogs-portrait.png',
];

describe('core/transform: encoders and format=auto', () => {
  describe('never heavier than the JPEG (or PNG) it replaces, and looks as good', () => {
    for (const file of PHOTOS) {
      for (const width of [400, 800, 1600]) {
        it(`${file} at ${width} px`, async function () {
          this.timeout(180_000);
          const input = fixture(file);
          const info = await inspectImage(input, config);
          const reference = await sharp(input)
            .autoOrient()
            .resize({ width, withoutEnlargement: true })
            .png()
            .toBuffer();
          const replaced = info.format === 'png' ? 'png' : 'jpeg';
          const baseline = await transformImage(input, variant({ width, format: replaced }), config, info);
          const jpeg =
            replaced === 'jpeg'
              ? baseline
              : await transformImage(input, variant({ width, format: 'jpeg' }), config, info);
          const jpegScore = await similarity(reference, jpeg.data);
          for (const format of ['auto-webp', 'auto-avif'] as const) {
            const out = await transformImage(input, variant({ width, format }), config, info);
            const decoded = await sharp(out.data).metadata();
            expect(decoded.format, `${format} says what it is`).to.equal(out.format === 'avif' ? 'heif' : out.format);
            expect(out.contentType).to.equal(`image/${out.format}`);
            expect(out.data.length, `${format} (${out.format}) bytes`).to.be.at.most(baseline.data.length);
            expect(out.data.length, `${format} (${out.format}) vs JPEG bytes`).to.be.at.most(jpeg.data.length);
            const score = await similarity(reference, out.data);
            expect(score, `${format} (${out.format}) SSIM vs JPEG's ${jpegScore}`).to.be.at.least(
              jpegScore - SSIM_TOLERANCE,
            );
          }
        });
      }
    }
  });

  it('is checked per image: a grain photograph, where AVIF and WebP both lose, is answered no heavier than its JPEG', async function () {
    this.timeout(60_000);
    // Film grain on a flat ground: AVIF at the mapped quality is 1.23× the JPEG at 200 px, 1.05× at 600 px (measured).
    const input = await grainPhotograph(1024, 768);
    const info = await inspectImage(input, config);
    for (const width of [200, 600]) {
      const jpeg = await transformImage(input, variant({ width, format: 'jpeg' }), config, info);
      for (const format of ['auto-avif', 'auto-webp'] as const) {
        const out = await transformImage(input, variant({ width, format }), config, info);
        expect(out.data.length, `${format} at ${width} px (${out.format})`).to.be.at.most(jpeg.data.length);
        expect(out.contentType).to.equal(`image/${out.format}`);
        expect(out.width, `${format} at ${width} px`).to.equal(width);
        expect(await similarity(jpeg.data, out.data), `${format} at ${width} px`).to.be.above(0.5);
      }
    }
  });

  it('auto-webp answers the JPEG for a JPEG kept near its own size, and says so', async () => {
    // fig.jpg is 1600 px wide: re-encoded at 1600 px WebP is 1.12× the JPEG at equal butteraugli (measured).
    const input = fixture('photos/fig.jpg');
    for (const width of [1600, 1200]) {
      const out = await transformImage(input, variant({ width }), config);
      expect(out.format, `${width} px`).to.equal('jpeg');
      expect(out.contentType).to.equal('image/jpeg');
      expect((await sharp(out.data).metadata()).format).to.equal('jpeg');
    }
    // Without a width the output is the original's size too; a cover crop at full scale as well.
    expect((await transformImage(input, variant({}), config)).format).to.equal('jpeg');
    expect((await transformImage(input, variant({ width: 1500, height: 600 }), config)).format).to.equal('jpeg');
  });

  it('auto-webp answers WebP for a downscaled JPEG, and for a WebP original at its own size', async () => {
    const input = fixture('photos/forest-stream.jpg'); // 1280 px wide
    for (const width of [400, 800]) {
      const out = await transformImage(input, variant({ width }), config);
      expect(out.format, `${width} px`).to.equal('webp');
      expect((await sharp(out.data).metadata()).format).to.equal('webp');
    }
    const webpOriginal = await sharp(input).resize({ width: 600 }).webp({ quality: 90 }).toBuffer();
    expect((await transformImage(webpOriginal, variant({ width: 600 }), config)).format).to.equal('webp');
  });

  it('auto-webp of a JPEG padded with a transparent bg: WebP keeps the padding transparent, the JPEG gets it flattened', async () => {
    const input = fixture('photos/forest-stream.jpg'); // 1280×852
    const out = await transformImage(
      input,
      variant({ width: 400, height: 400, fit: 'contain', background: 'ff000000' }),
      config,
    );
    expect([out.width, out.height]).to.deep.equal([400, 400]);
    const { data, info } = await sharp(out.data).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const corner = [...data.subarray(0, info.channels)];
    if (out.format === 'webp') expect(corner[3], 'transparent padding').to.equal(0);
    else expect(corner[3]).to.equal(255);
    expect(out.format).to.equal('webp'); // a downscale: WebP is tried and wins here
  });

  it('auto for a PNG original of line art keeps the PNG where it is the smaller, and says so', async () => {
    // Thin black lines on white: PNG stores them in ~5 KB, lossy encoders need far more.
    const width = 256;
    const pixels = Buffer.alloc(width * width * 3, 255);
    for (let i = 0; i < width * width; i++) {
      const x = i % width;
      const y = Math.floor(i / width);
      if ((x * 7 + y * 13) % 97 < 3) pixels.fill(0, i * 3, i * 3 + 3);
    }
    const art = await sharp(pixels, { raw: { width, height: width, channels: 3 } })
      .png()
      .toBuffer();
    const png = await transformImage(art, variant({ format: 'original' }), config);
    expect(png.format).to.equal('png');
    const webp = await transformImage(art, variant({ format: 'webp' }), config);
    expect(webp.data.length, 'WebP alone would be heavier').to.be.above(png.data.length);
    for (const format of ['auto-webp', 'auto-avif'] as const) {
      const out = await transformImage(art, variant({ format }), config);
      expect(out.format, format).to.equal('png');
      expect(out.contentType, format).to.equal('image/png');
      expect(out.data.length, format).to.be.at.most(png.data.length);
      expect(await similarity(png.data, out.data), format).to.be.above(0.99);
    }
  });

  it('keeps alpha: a PNG with transparency stays transparent under auto', async () => {
    const half = await coordinateImage(200, 100, { transparentLeft: true });
    for (const format of ['auto-webp', 'auto-avif'] as const) {
      const out = await transformImage(half, variant({ format }), config);
      expect(out.format, format).to.not.equal('jpeg');
      expect((await sharp(out.data).metadata()).hasAlpha, format).to.equal(true);
    }
  });

  it('auto-avif above the stage’s AVIF pixel cap falls back to the WebP behaviour', async () => {
    const capped = createConfig({ avifMaxOutputPixels: 300 * 300 });
    const input = fixture('photos/paintbrushes.jpg');
    const small = await transformImage(input, variant({ width: 300, height: 300, format: 'auto-avif' }), capped);
    expect(small.format).to.equal('avif');
    const large = await transformImage(input, variant({ width: 400, format: 'auto-avif' }), capped);
    expect(large.format).to.be.oneOf(['webp', 'jpeg']);
    const webp = await transformImage(input, variant({ width: 400, format: 'auto-webp' }), capped);
    expect(large.format).to.equal(webp.format);
    expect(await similarity(webp.data, large.data)).to.be.above(0.99);
  });

  it('auto-avif with the stage’s autoAvif off answers as auto-webp', async () => {
    const off = createConfig({ autoAvif: false });
    const out = await transformImage(
      fixture('photos/mountains.jpg'),
      variant({ width: 200, format: 'auto-avif' }),
      off,
    );
    expect(out.format).to.be.oneOf(['webp', 'jpeg']);
  });

  it('an animated original stays animated under auto (WebP, also when AVIF was negotiated)', async () => {
    for (const file of ['edge/animated.gif', 'edge/animated.webp']) {
      const input = fixture(file);
      const pages = (await sharp(input).metadata()).pages ?? 1;
      for (const format of ['auto-webp', 'auto-avif'] as const) {
        const out = await transformImage(input, variant({ width: 80, format }), config);
        expect(out.format, `${file} ${format}`).to.equal('webp');
        expect((await sharp(out.data).metadata()).pages, `${file} ${format}`).to.equal(pages);
      }
    }
  });

  it('explicit formats always use that encoder, at the quality mapped from JPEG’s scale', async () => {
    const input = fixture('photos/forest-stream.jpg');
    for (const format of ['webp', 'avif', 'jpeg', 'png'] as const) {
      const out = await transformImage(input, variant({ width: 200, format }), config);
      expect(out.format).to.equal(format);
    }
    // WebP 80 on JPEG's scale is WebP 83 on its own (encoder-policy): more bytes than WebP's own 80.
    const ours = await transformImage(input, variant({ width: 200, format: 'webp' }), config);
    const own80 = await sharp(input).resize({ width: 200 }).webp({ quality: 80 }).toBuffer();
    expect(ours.data.length).to.be.above(own80.length);
  });
});

/** A 1024×768 JPEG of strong Gaussian grain (sigma 60) over mid grey: the case where a lossy encoder's bytes go to noise. */
async function grainPhotograph(width: number, height: number): Promise<Buffer> {
  const noise = { type: 'gaussian', mean: 128, sigma: 60 } as const;
  const grain = await sharp({ create: { width, height, channels: 3, background: '#808080', noise } })
    .raw()
    .toBuffer();
  return sharp({ create: { width, height, channels: 3, background: '#808080' } })
    .composite([{ input: grain, raw: { width, height, channels: 3 }, blend: 'overlay' }])
    .jpeg({ quality: 95 })
    .toBuffer();
}
