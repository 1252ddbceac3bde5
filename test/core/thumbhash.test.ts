import { expect } from 'chai';
import { thumbHashToApproximateAspectRatio, thumbHashToAverageRGBA } from 'thumbhash';
import { createConfig } from '../../src/core/config.js';
import { HttpError } from '../../src/core/errors.js';
import { computeThumbHash } from '../../src/core/thumbhash.js';
import { fixture } from '../helpers/images.js';

describe('core/thumbhash', () => {
  const config = createConfig();

  it('sketches the image as displayed: aspect ratio after EXIF rotation', async () => {
    const landscape = Buffer.from(await computeThumbHash(fixture('photos/mountains.jpg'), config), 'base64');
    expect(thumbHashToApproximateAspectRatio(landscape)).to.be.closeTo(1440 / 1080, 0.15);
    // Stored 300×200 with orientation 6: displayed portrait.
    const rotated = Buffer.from(await computeThumbHash(fixture('edge/exif-orientation-6.jpg'), config), 'base64');
    expect(thumbHashToApproximateAspectRatio(rotated)).to.be.lessThan(1);
  });

  it('keeps transparency in the placeholder', async () => {
    const hash = Buffer.from(await computeThumbHash(fixture('edge/alpha.png'), config), 'base64');
    expect(thumbHashToAverageRGBA(hash).a).to.be.lessThan(1);
  });

  it('refuses a truncated image with 422 corrupt_image', async () => {
    const error = await computeThumbHash(fixture('edge/truncated.jpg'), config).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(HttpError).with.property('code', 'corrupt_image');
  });
});
