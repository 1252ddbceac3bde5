import { expect } from 'chai';
import sharp from 'sharp';
import { webpQualityMatchingJpeg, webpSettings } from '../../src/core/encoder-policy.js';
import { MOZJPEG_PER_BASELINE_BYTE, webpOrJpeg } from '../../src/core/never-heavier.js';
import type { OutputFormat } from '../../src/core/params.js';
import type { TransformResult } from '../../src/core/transform.js';
import { fixture } from '../helpers/images.js';

const result = (format: OutputFormat, bytes: number): TransformResult => ({
  data: Buffer.alloc(bytes),
  format,
  contentType: `image/${format}`,
  width: 100,
  height: 100,
});

/** Encodes of given sizes that record what ran, in order (the choice's logic, not sharp's, is under test). */
function encodes(jpegBytes: number, webpBytes: (quality: number) => number, baselineBytes: number) {
  const calls: string[] = [];
  return {
    calls,
    encodes: {
      jpeg: async () => {
        calls.push('jpeg');
        return result('jpeg', jpegBytes);
      },
      webp: async (quality: number) => {
        calls.push(`webp@${quality}`);
        return result('webp', webpBytes(quality));
      },
      baselineJpegBytes: async () => {
        calls.push('baseline');
        return baselineBytes;
      },
    },
  };
}

describe('core/never-heavier: WebP or the JPEG', () => {
  const pixels = 100 * 100;
  const exact = webpQualityMatchingJpeg(80, (9_000 * 8) / pixels);

  it('one core: the JPEG, then WebP at the quality its bytes give; the smaller served', async () => {
    const run = encodes(9_000, () => 7_000, 0);
    const out = await webpOrJpeg(run.encodes, 80, pixels, false);
    expect(run.calls).to.deep.equal(['jpeg', `webp@${exact}`]);
    expect(out.format).to.equal('webp');
    const heavy = encodes(9_000, () => 9_500, 0);
    expect((await webpOrJpeg(heavy.encodes, 80, pixels, false)).format, 'never heavier').to.equal('jpeg');
  });

  it('two cores: both at once from a baseline estimate; a right guess is kept', async () => {
    const run = encodes(9_000, () => 7_000, Math.round(9_000 / MOZJPEG_PER_BASELINE_BYTE));
    const out = await webpOrJpeg(run.encodes, 80, pixels, true);
    expect(run.calls).to.deep.equal(['baseline', 'jpeg', `webp@${exact}`]);
    expect(out.format).to.equal('webp');
  });

  it('two cores: a wrong guess is encoded again at the exact quality, so the bytes are those of one core; never heavier holds', async () => {
    // A baseline JPEG far smaller than this mozjpeg one predicts a smooth image: a much higher WebP quality.
    const run = encodes(9_000, (q) => (q === exact ? 8_000 : 12_000), 2_000);
    const out = await webpOrJpeg(run.encodes, 80, pixels, true);
    const guess = run.calls[2];
    expect(guess).to.not.equal(`webp@${exact}`);
    expect(run.calls.slice(3)).to.deep.equal([`webp@${exact}`]);
    expect(out.format).to.equal('webp');
    expect(out.data.length).to.equal(8_000);
    const heavy = encodes(9_000, () => 9_001, 10_600);
    expect((await webpOrJpeg(heavy.encodes, 80, pixels, true)).format, 'never heavier').to.equal('jpeg');
  });

  it('real encodes: one core and two serve the same bytes', async function () {
    this.timeout(60_000);
    for (const file of ['photos/mountains.jpg', 'calibration/storm-road.jpg', 'photos/forest-stream.jpg']) {
      for (const width of [300, 500]) {
        const { data, info } = await sharp(fixture(file)).resize({ width }).raw().toBuffer({ resolveWithObject: true });
        const raw = () => sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
        const pixels = info.width * info.height;
        const wrap = async (format: OutputFormat, encoded: Promise<Buffer>) => ({
          ...result(format, 0),
          data: await encoded,
        });
        const real = {
          jpeg: () => wrap('jpeg', raw().jpeg({ quality: 80, mozjpeg: true }).toBuffer()),
          webp: (quality: number) =>
            wrap(
              'webp',
              raw()
                .webp({ quality, ...webpSettings(pixels) })
                .toBuffer(),
            ),
          baselineJpegBytes: async () => (await raw().jpeg({ quality: 80 }).toBuffer()).length,
        };
        const one = await webpOrJpeg(real, 80, pixels, false);
        const two = await webpOrJpeg(real, 80, pixels, true);
        expect(two.format, `${file} at ${width} px`).to.equal(one.format);
        expect(two.data.equals(one.data), `${file} at ${width} px`).to.equal(true);
      }
    }
  });
});
