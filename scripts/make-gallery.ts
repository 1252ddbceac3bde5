/**
 * The README's gallery: one fixture photo, one picture per operation of
 * rendered by the real pipeline (`transformImage`), so the
 * pictures cannot drift from the code. Writes docs/gallery/*.jpg and
 * docs/gallery.md.
 *
 *   npx tsx scripts/make-gallery.ts
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { createConfig } from '../src/core/config.js';
import { canonicalVariant, parseImageParams } from '../src/core/params.js';
import { type TransformOptions, transformImage } from '../src/core/transform.js';

const FIXTURE = 'photos/dogs-portrait.jpg';
const root = new URL('../', import.meta.url);
const config = createConfig();

interface Entry {
  name: string;
  /** The query string that names this variant. */
  query: string;
  what: string;
  options?: TransformOptions;
  /** Render from this input instead of the fixture (trim needs a border to remove). */
  input?: Buffer;
}

/** One rendered picture of the gallery. */
export interface GalleryPicture {
  name: string;
  query: string;
  what: string;
  data: Buffer;
  width: number;
  height: number;
}

/** Renders every picture of the gallery through the real pipeline, the URL parsed as the edge parses it. */
export async function renderGallery(): Promise<GalleryPicture[]> {
  const photo = readFileSync(new URL(`fixtures/${FIXTURE}`, root));
  const bordered = await sharp(photo)
    .resize({ width: 320 })
    .extend({ top: 40, bottom: 40, left: 40, right: 40, background: '#f2e6c9' })
    .jpeg({ quality: 95 })
    .toBuffer();

  const entries: Entry[] = [
    { name: 'original', query: 'width=320', what: 'the fixture, resized' },
    {
      name: 'cover-centre',
      query: 'width=320&height=180',
      what: 'cover crop, default gravity (focal: the centre without a stored point)',
    },
    {
      name: 'gravity-top',
      query: 'width=320&height=180&gravity=top',
      what: 'a named gravity',
    },
    {
      name: 'gravity-attention',
      query: 'width=320&height=180&gravity=attention',
      what: "sharp's attention smart crop",
    },
    {
      name: 'gravity-entropy',
      query: 'width=320&height=180&gravity=entropy',
      what: "sharp's entropy smart crop",
    },
    {
      name: 'focal',
      query: 'width=320&height=180&fx=0.5&fy=0.8',
      what: 'a focal point low in the picture',
    },
    {
      name: 'rect',
      query: 'rect=200,700,600,500&width=320',
      what: "a region cut out first, in the original's pixels",
    },
    {
      name: 'rotate',
      query: 'width=320&rotate=90',
      what: 'a quarter turn clockwise',
    },
    { name: 'flip', query: 'width=320&flip=h', what: 'mirrored left-right' },
    {
      name: 'blur',
      query: 'width=320&blur=6',
      what: 'Gaussian blur, sigma in output pixels',
    },
    {
      name: 'sharpen',
      query: 'width=320&sharpen=2',
      what: "sharp's sharpen, sigma 2",
    },
    {
      name: 'contain-bg',
      query: 'width=320&height=320&fit=contain&gravity=left&bg=1e3a5f',
      what: 'contain: gravity places the picture in its padding, which is bg',
    },
    {
      name: 'trim-before',
      query: 'width=400',
      what: 'a copy of the fixture with a uniform border (the input of the next one)',
      input: bordered,
    },
    {
      name: 'trim',
      query: 'trim=10&width=400',
      what: 'the border removed',
      input: bordered,
    },
  ];

  const pictures: GalleryPicture[] = [];
  for (const entry of entries) {
    // JPEG, so the pictures look the same in every browser.
    const variant = canonicalVariant(parseImageParams(`${entry.query}&format=jpeg`, config), 'original', config);
    const result = await transformImage(entry.input ?? photo, variant, config, undefined, entry.options);
    pictures.push({ name: entry.name, query: entry.query, what: entry.what, ...result });
  }
  return pictures;
}

async function main(): Promise<void> {
  const out = new URL('docs/gallery/', root);
  mkdirSync(out, { recursive: true });
  const lines = [
    '# Gallery',
    '',
    `One fixture (\`fixtures/${FIXTURE}\`), one picture per image URL operation, each rendered by`,
    'the real pipeline (`src/core/pipeline/`) with `npx tsx scripts/make-gallery.ts`; rerun it after',
    'changing the transform (`test/core/gallery.test.ts` fails when a picture no longer matches the code).',
    'The image URL of each is `/<key>?<query>`.',
    '',
    '| operation | query | picture |',
    '|---|---|---|',
  ];
  const pictures = await renderGallery();
  for (const picture of pictures) {
    const file = `${picture.name}.jpg`;
    writeFileSync(new URL(file, out), picture.data);
    lines.push(
      `| ${picture.what} (${picture.width}×${picture.height}) | \`${picture.query}\` | ![${picture.name}](gallery/${file}) |`,
    );
  }
  writeFileSync(new URL('docs/gallery.md', root), `${lines.join('\n')}\n`);
  console.log(`wrote ${pictures.length} pictures to docs/gallery/ and docs/gallery.md`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
