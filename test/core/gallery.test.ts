import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import sharp from 'sharp';
import { renderGallery } from '../../scripts/make-gallery.js';
import { similarity } from '../helpers/images.js';

const docs = new URL('../../docs/', import.meta.url);

describe('docs/gallery: the committed pictures are what the pipeline renders', () => {
  it('every picture matches a fresh render (dimensions, SSIM) and is listed in gallery.md', async function () {
    this.timeout(120_000);
    const markdown = readFileSync(new URL('gallery.md', docs), 'utf8');
    const pictures = await renderGallery();
    expect(pictures.length).to.be.at.least(12);
    for (const picture of pictures) {
      const committed = readFileSync(new URL(`gallery/${picture.name}.jpg`, docs));
      const meta = await sharp(committed).metadata();
      expect([meta.width, meta.height], picture.name).to.deep.equal([picture.width, picture.height]);
      // Re-encoding noise only. Measured between gallery pictures: flip vs original 0.19, blur 0.52,
      // sharpen 0.86, another gravity 0.28; 0.98 catches each.
      expect(await similarity(committed, picture.data), picture.name).to.be.above(0.98);
      expect(markdown, picture.name).to.include(`\`${picture.query}\``);
      expect(markdown, picture.name).to.include(`gallery/${picture.name}.jpg`);
    }
  });
});
