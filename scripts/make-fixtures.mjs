#!/usr/bin/env node
// Regenerates the image test fixtures.
//
//   node scripts/make-fixtures.mjs                 regenerate fixtures/edge/* from fixtures/photos/* and verify them
//   node scripts/make-fixtures.mjs --verify        only verify the committed fixtures/edge/* (writes nothing)
//   node scripts/make-fixtures.mjs --bench-png OUT write the ~13 MB benchmark PNG (5120x2880) to OUT
//   node scripts/make-fixtures.mjs --import-photos re-create fixtures/photos/* and fixtures/bench/* from the
//                                                  Debian package lomiri-wallpapers-16.04 (maintainers only;
//                                                  CI never needs it: the photos are committed)
//
// Everything in fixtures/edge/ is derived deterministically from the committed photos, so with the same
// sharp/libvips version (sharp 0.35.5 / libvips 8.18.7) the output is byte-identical. See fixtures/README.md.
//
// The functions are exported too: makeEdgeFixtures(), verifyEdgeFixtures(), makeBenchPng(), importPhotos().

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES = join(ROOT, 'fixtures');
export const PHOTOS = join(FIXTURES, 'photos');
export const BENCH = join(FIXTURES, 'bench');
export const EDGE = join(FIXTURES, 'edge');

export const BENCH_JPEG_5120 = join(BENCH, 'seeding-5120x2880.jpg');
export const BENCH_JPEG_2560 = join(BENCH, 'seeding-2560x1600.jpg');
/** PNG settings that turn the 5120x2880 bench JPEG into a ~13 MB PNG (13,090,505 bytes with sharp 0.35.5).
 *  sharp's default PNG settings (level 6, no adaptive filtering) give 24.1 MB; see fixtures/README.md. */
export const BENCH_PNG_OPTIONS = Object.freeze({ compressionLevel: 6, adaptiveFiltering: true });

// Keep libvips single-threaded and cache-free so that output never depends on scheduling.
sharp.concurrency(1);
sharp.cache(false);

// ---------------------------------------------------------------------------------------------------------
// 1. Photos (import from Debian; only for maintainers)
// ---------------------------------------------------------------------------------------------------------

const DEBIAN_DIR = '/usr/share/backgrounds';
/** name -> [source file in lomiri-wallpapers-16.04, long side in px]. Long side is the largest multiple of 80
 *  <= 1600 at which the q85 JPEG stays under 400 KiB (or the source size if that is smaller). */
export const PHOTO_SOURCES = Object.freeze({
  mountains: ['picosdeeuropa_by_Aitzol_Berasategi.jpg', 1440],
  'dogs-portrait': ['friends_by_Aitzol_Berasategi.jpg', 1600],
  'forest-stream': ['life_by_Aitzol_Berasategi.jpg', 1280],
  paintbrushes: ['Picture_1A_by_freespace.jpg', 1365],
  fig: ['Picture_0B_by_freespace.jpg', 1600],
});
const PHOTO_PNG = ['dogs-portrait', 800];
const BENCH_SOURCE = 'seeding_by_Clements_Engelhardt.jpg';

export async function importPhotos() {
  if (!existsSync(join(DEBIAN_DIR, BENCH_SOURCE))) {
    throw new Error(`${DEBIAN_DIR}/${BENCH_SOURCE} not found: apt-get install lomiri-wallpapers-16.04`);
  }
  mkdirSync(PHOTOS, { recursive: true });
  mkdirSync(BENCH, { recursive: true });
  for (const [name, [file, longSide]] of Object.entries(PHOTO_SOURCES)) {
    await sharp(join(DEBIAN_DIR, file))
      .autoOrient()
      .resize(longSide, longSide, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' })
      .jpeg({ quality: 85 }) // baseline, 4:2:0, no metadata (sharp strips EXIF/XMP/ICC by default)
      .toFile(join(PHOTOS, `${name}.jpg`));
  }
  const [pngName, pngSide] = PHOTO_PNG;
  await sharp(join(DEBIAN_DIR, PHOTO_SOURCES[pngName][0]))
    .autoOrient()
    .resize(pngSide, pngSide, { fit: 'inside', kernel: 'lanczos3' })
    .png({ compressionLevel: 9, adaptiveFiltering: true })
    .toFile(join(PHOTOS, `${pngName}.png`));
  // Source is 5312x2988 (exactly 16:9), so 5120x2880 is a pure downscale; 2560x1600 (16:10) crops the sides.
  for (const [out, w, h] of [
    [BENCH_JPEG_5120, 5120, 2880],
    [BENCH_JPEG_2560, 2560, 1600],
  ]) {
    await sharp(join(DEBIAN_DIR, BENCH_SOURCE))
      .autoOrient()
      .resize(w, h, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
      .jpeg({ quality: 90 })
      .toFile(out);
  }
}

// ---------------------------------------------------------------------------------------------------------
// 2. Benchmark PNG (generated at bench time, never committed)
// ---------------------------------------------------------------------------------------------------------

export async function makeBenchPng(out, options = BENCH_PNG_OPTIONS) {
  mkdirSync(dirname(resolve(out)), { recursive: true });
  const info = await sharp(BENCH_JPEG_5120).png(options).toFile(out);
  return { file: out, width: info.width, height: info.height, bytes: info.size };
}

// ---------------------------------------------------------------------------------------------------------
// 3. Edge cases
// ---------------------------------------------------------------------------------------------------------

const photo = (name) => join(PHOTOS, name);

/** A valid, complete PNG declaring width x height, 1-bit greyscale, all black. Built by hand:
 *  the IDAT is a real zlib stream of height rows of (filter byte 0 + ceil(width/8) zero bytes), which deflate
 *  compresses ~1000:1, so 30000x30000 (900 Mpx, 112.5 MB of filtered scanlines) is ~110 KB on disk. */
export function pngBomb(width = 30000, height = 30000) {
  const rowBytes = 1 + Math.ceil(width / 8);
  const raw = Buffer.alloc(rowBytes * height); // all zero: filter type 0, black pixels
  const idat = deflateSync(raw, { level: 9, memLevel: 9, windowBits: 15, strategy: 0 });
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // colour type: greyscale
  ihdr[10] = 0; // compression
  ihdr[11] = 0; // filter
  ihdr[12] = 0; // interlace: none
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** Insert a minimal EXIF APP1 segment (big-endian TIFF, IFD0 with the single tag Orientation) right after
 *  the JFIF APP0 segment. Done by hand because sharp's withExif() does not write Orientation, and
 *  withMetadata({ orientation }) also embeds an sRGB ICC profile we do not want in this fixture. */
export function insertExifOrientation(jpeg, orientation) {
  if (jpeg.readUInt16BE(0) !== 0xffd8) throw new Error('not a JPEG');
  let at = 2;
  if (jpeg.readUInt16BE(2) === 0xffe0) at = 4 + jpeg.readUInt16BE(4); // skip APP0 (JFIF)
  const tiff = Buffer.from([
    0x4d,
    0x4d,
    0x00,
    0x2a,
    0x00,
    0x00,
    0x00,
    0x08, // "MM", 42, offset of IFD0 = 8
    0x00,
    0x01, // 1 entry
    0x01,
    0x12,
    0x00,
    0x03,
    0x00,
    0x00,
    0x00,
    0x01,
    orientation >> 8,
    orientation & 0xff,
    0x00,
    0x00, // Orientation SHORT
    0x00,
    0x00,
    0x00,
    0x00, // no next IFD
  ]);
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const header = Buffer.from([0xff, 0xe1, 0, 0]);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, at), header, payload, jpeg.subarray(at)]);
}

/** 4 visibly different frames: a 160x120 window panning across the mountains photo, each with a coloured
 *  corner badge (red, green, blue, yellow) whose position moves clockwise. */
async function animationFrames() {
  const W = 160;
  const H = 120;
  const base = await sharp(photo('mountains.jpg')).resize(640, 480).toBuffer();
  const colours = ['#ff0000', '#00ff00', '#0000ff', '#ffff00'];
  const corners = [
    [0, 0],
    [W - 32, 0],
    [W - 32, H - 32],
    [0, H - 32],
  ];
  const frames = [];
  for (let i = 0; i < 4; i++) {
    const badge = await sharp({ create: { width: 32, height: 32, channels: 3, background: colours[i] } })
      .png()
      .toBuffer();
    frames.push(
      await sharp(base)
        .extract({ left: i * 150, top: 120 + i * 40, width: W, height: H })
        .composite([{ input: badge, left: corners[i][0], top: corners[i][1] }])
        .png()
        .toBuffer(),
    );
  }
  return frames;
}

const SVG = `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="200" height="120" viewBox="0 0 200 120">
  <title>edge-resizer test SVG</title>
  <defs>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#3a7bd5"/>
      <stop offset="1" stop-color="#a8d8ff"/>
    </linearGradient>
  </defs>
  <rect width="200" height="120" fill="url(#sky)"/>
  <circle cx="160" cy="30" r="16" fill="#ffd200"/>
  <path d="M0 120 L60 50 L100 95 L140 60 L200 120 Z" fill="#2e5e3e"/>
  <rect x="0" y="0" width="20" height="20" fill="#ff0000"/>
</svg>
`;

const NOT_AN_IMAGE =
  'This is not an image. It is a plain-text file with a .jpg name, used to test that\n' +
  'edge-resizer rejects unsupported input with a 4xx instead of crashing.\n';

/** name -> async () => Buffer. Order matters only for readability. */
export const EDGE_BUILDERS = {
  // Photo (fig) cropped square, with a soft circular alpha mask (opaque centre, feathered edge, transparent corners).
  'alpha.png': async () => {
    const size = 192;
    const mask = Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">
        <defs><radialGradient id="g" cx="0.5" cy="0.5" r="0.5">
          <stop offset="0.6" stop-color="#fff" stop-opacity="1"/>
          <stop offset="1" stop-color="#fff" stop-opacity="0"/>
        </radialGradient></defs>
        <rect width="${size}" height="${size}" fill="url(#g)"/>
      </svg>`,
    );
    return sharp(photo('fig.jpg'))
      .resize(size, size, { fit: 'cover', position: 'centre' })
      .ensureAlpha()
      .composite([{ input: mask, blend: 'dest-in' }])
      .png({ compressionLevel: 9, adaptiveFiltering: true })
      .toBuffer();
  },

  // Stored pixels 300x200 (landscape) + EXIF Orientation=6 => displays as 200x300 portrait.
  // A pure red 60x40 block sits in the *stored* top-left corner; after rotation it is in the displayed
  // top-right corner (x 160..199, y 0..59).
  'exif-orientation-6.jpg': async () => {
    const red = await sharp({ create: { width: 60, height: 40, channels: 3, background: '#ff0000' } })
      .png()
      .toBuffer();
    return sharp(photo('mountains.jpg'))
      .resize(300, 200, { fit: 'cover' })
      .composite([{ input: red, left: 0, top: 0 }])
      .jpeg({ quality: 90 })
      .toBuffer()
      .then((jpeg) => insertExifOrientation(jpeg, 6));
  },

  'cmyk.jpg': async () =>
    sharp(photo('paintbrushes.jpg')).resize(320).toColourspace('cmyk').jpeg({ quality: 85 }).toBuffer(),

  'grayscale.jpg': async () =>
    sharp(photo('forest-stream.jpg')).resize(320).toColourspace('b-w').jpeg({ quality: 85 }).toBuffer(),

  '16bit.png': async () =>
    sharp(photo('mountains.jpg'))
      .resize(128, 96)
      .toColourspace('rgb16')
      .png({ compressionLevel: 9, adaptiveFiltering: true })
      .toBuffer(),

  'animated.gif': async () =>
    sharp(await animationFrames(), { join: { animated: true } })
      .gif({ loop: 0, delay: [250, 250, 250, 250], effort: 7, dither: 0 })
      .toBuffer(),

  'animated.webp': async () =>
    sharp(await animationFrames(), { join: { animated: true } })
      .webp({ loop: 0, delay: [250, 250, 250, 250], quality: 75, effort: 4 })
      .toBuffer(),

  // A complete baseline JPEG (640x480 q85) cut to its first floor(50%) bytes: header intact, entropy data
  // ends mid-scan, no EOI marker.
  'truncated.jpg': async () => {
    const full = await sharp(photo('mountains.jpg')).resize(640, 480).jpeg({ quality: 85 }).toBuffer();
    return full.subarray(0, Math.floor(full.length / 2));
  },

  'image.svg': async () => Buffer.from(SVG, 'utf8'),

  'bomb.png': async () => pngBomb(30000, 30000),

  'not-an-image.jpg': async () => Buffer.from(NOT_AN_IMAGE, 'utf8'),

  'zero.jpg': async () => Buffer.alloc(0),

  // Named "large" for its role (TIFF, the typical heavyweight upload format) but kept small for the repo.
  'large.tiff': async () =>
    sharp(photo('forest-stream.jpg')).resize(480, 320).tiff({ compression: 'jpeg', quality: 85 }).toBuffer(),

  'photo.avif': async () => sharp(photo('fig.jpg')).resize(640).avif({ quality: 50, effort: 4 }).toBuffer(),

  'photo.webp': async () => sharp(photo('fig.jpg')).resize(640).webp({ quality: 80, effort: 4 }).toBuffer(),
};

export async function makeEdgeFixtures(dir = EDGE) {
  mkdirSync(dir, { recursive: true });
  const written = [];
  for (const [name, build] of Object.entries(EDGE_BUILDERS)) {
    const buf = await build();
    writeFileSync(join(dir, name), buf);
    written.push({ name, bytes: buf.length, sha256: createHash('sha256').update(buf).digest('hex') });
  }
  return written;
}

// ---------------------------------------------------------------------------------------------------------
// 4. Verification: every property the tests rely on
// ---------------------------------------------------------------------------------------------------------

function check(cond, msg) {
  if (!cond) throw new Error(`fixture check failed: ${msg}`);
}
async function rejects(promise) {
  try {
    await promise;
    return null;
  } catch (e) {
    return e.message;
  }
}

export async function verifyEdgeFixtures(dir = EDGE) {
  const f = (n) => join(dir, n);
  const meta = (n, o) => sharp(f(n), o).metadata();
  const rows = [];
  const row = (name, m, note = '') =>
    rows.push({
      name,
      bytes: statSync(f(name)).size,
      format: m?.format ?? '-',
      size: m ? `${m.width}x${m.height}` : '-',
      note,
    });

  let m = await meta('alpha.png');
  check(m.format === 'png' && m.channels === 4 && m.hasAlpha, 'alpha.png has 4 channels');
  const a = (await sharp(f('alpha.png')).stats()).channels[3];
  check(a.min === 0 && a.max === 255, 'alpha.png alpha spans 0..255');
  row('alpha.png', m, 'RGBA, soft circular mask');

  m = await meta('exif-orientation-6.jpg');
  check(
    m.width === 300 && m.height === 200 && m.orientation === 6,
    'exif-orientation-6.jpg stored 300x200, orientation 6',
  );
  check(m.autoOrient?.width === 200 && m.autoOrient?.height === 300, 'metadata().autoOrient is 200x300');
  const rot = await sharp(f('exif-orientation-6.jpg')).rotate().raw().toBuffer({ resolveWithObject: true });
  check(rot.info.width === 200 && rot.info.height === 300, 'rotate() gives 200x300');
  const px = (x, y) => Array.from(rot.data.subarray((y * 200 + x) * 3, (y * 200 + x) * 3 + 3));
  const [r, g, b] = px(190, 10); // displayed top-right: red
  check(r > 200 && g < 60 && b < 60, `red block at displayed top-right, got ${[r, g, b]}`);
  const [r2, g2, b2] = px(10, 10); // displayed top-left: photo, not red
  check(!(r2 > 200 && g2 < 60 && b2 < 60), 'displayed top-left is not red');
  row('exif-orientation-6.jpg', m, 'stored 300x200, EXIF Orientation 6 -> displays 200x300');

  m = await meta('cmyk.jpg');
  check(m.space === 'cmyk' && m.channels === 4, 'cmyk.jpg space cmyk');
  row('cmyk.jpg', m, `space ${m.space}, ${m.channels} channels, icc ${m.icc ? 'yes' : 'no'}`);

  m = await meta('grayscale.jpg');
  check(m.space === 'b-w' && m.channels === 1, 'grayscale.jpg b-w, 1 channel');
  row('grayscale.jpg', m, 'space b-w, 1 channel');

  m = await meta('16bit.png');
  check(m.depth === 'ushort' && m.bitsPerSample === 16, '16bit.png depth ushort');
  row('16bit.png', m, `depth ${m.depth}, space ${m.space}`);

  for (const n of ['animated.gif', 'animated.webp']) {
    m = await meta(n);
    // without { animated: true } metadata() describes the first page: height 120, pageHeight undefined
    check(m.pages >= 3 && m.height === 120 && m.width === 160, `${n} has >= 3 pages of 160x120`);
    check(m.loop === 0, `${n} loops forever`);
    const frames = await sharp(f(n), { animated: true }).raw().toBuffer({ resolveWithObject: true });
    const fb = frames.info.width * 120 * frames.info.channels;
    for (let i = 1; i < m.pages; i++) {
      check(
        !frames.data.subarray(0, fb).equals(frames.data.subarray(i * fb, (i + 1) * fb)),
        `${n} frame ${i} differs from frame 0`,
      );
    }
    row(n, m, `${m.pages} frames of ${m.width}x${m.height}, delay ${m.delay} ms, loop 0`);
  }

  m = await meta('truncated.jpg');
  check(m.width === 640 && m.height === 480, 'truncated.jpg header readable');
  const tErr = await rejects(sharp(f('truncated.jpg')).toBuffer());
  check(tErr && /premature end/i.test(tErr), `truncated.jpg fails with default failOn, got ${tErr}`);
  check(
    !(await rejects(sharp(f('truncated.jpg'), { failOn: 'none' }).toBuffer())),
    'truncated.jpg decodes with failOn none',
  );
  row('truncated.jpg', m, 'metadata OK; decode throws "premature end of JPEG image"');

  m = await meta('image.svg');
  check(m.format === 'svg' && m.width === 200 && m.height === 120, 'image.svg 200x120');
  row('image.svg', m);

  // sharp 0.35 applies limitInputPixels to metadata() too: reading the header needs the limit lifted.
  const mErr = await rejects(meta('bomb.png'));
  check(mErr && /exceeds pixel limit/i.test(mErr), `bomb.png metadata() refused by default limit, got ${mErr}`);
  const t0 = Date.now();
  m = await meta('bomb.png', { limitInputPixels: false });
  const ms = Date.now() - t0;
  check(m.width === 30000 && m.height === 30000, 'bomb.png declares 30000x30000');
  check(ms < 1000, `bomb.png metadata is fast (${ms} ms)`);
  const bErr = await rejects(sharp(f('bomb.png')).toBuffer());
  check(bErr && /exceeds pixel limit/i.test(bErr), `bomb.png rejected by default limitInputPixels, got ${bErr}`);
  const bErr2 = await rejects(sharp(f('bomb.png'), { limitInputPixels: 100e6 }).toBuffer());
  check(bErr2 && /exceeds pixel limit/i.test(bErr2), 'bomb.png rejected with limitInputPixels 100e6');
  row('bomb.png', m, '900 Mpx 1-bit grey; metadata()/toBuffer() throw "Input image exceeds pixel limit"');

  const nErr = await rejects(meta('not-an-image.jpg'));
  check(nErr && /unsupported image format/i.test(nErr), `not-an-image.jpg unsupported, got ${nErr}`);
  row('not-an-image.jpg', null, 'text; sharp: unsupported image format');

  const zErr = await rejects(meta('zero.jpg'));
  check(statSync(f('zero.jpg')).size === 0 && zErr, 'zero.jpg is empty and rejected');
  row('zero.jpg', null, `0 bytes; sharp: ${zErr.split('\n')[0]}`);

  m = await meta('large.tiff');
  check(m.format === 'tiff' && m.width === 480 && m.height === 320, 'large.tiff 480x320 tiff');
  row('large.tiff', m, 'TIFF, JPEG-compressed strips (sharp default)');

  m = await meta('photo.avif');
  check(m.format === 'heif' && m.compression === 'av1' && m.width === 640, 'photo.avif is AV1 HEIF 640 wide');
  row('photo.avif', m, 'AVIF (heif/av1)');

  m = await meta('photo.webp');
  check(m.format === 'webp' && m.width === 640, 'photo.webp 640 wide');
  row('photo.webp', m);

  for (const r of rows) check(r.bytes < 120 * 1024, `${r.name} is small (${r.bytes} bytes)`);
  return rows;
}

// ---------------------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------------------

async function main(argv) {
  const i = argv.indexOf('--bench-png');
  if (i !== -1) {
    const out = argv[i + 1];
    if (!out) throw new Error('usage: --bench-png <out.png>');
    const r = await makeBenchPng(out);
    console.log(`${r.file}: ${r.width}x${r.height} PNG, ${r.bytes} bytes`);
    return;
  }
  if (argv.includes('--import-photos')) {
    await importPhotos();
    for (const d of [PHOTOS, BENCH]) {
      for (const n of readdirSync(d).sort()) {
        const mm = await sharp(join(d, n)).metadata();
        console.log(`${join(d, n).slice(ROOT.length + 1)}\t${mm.width}x${mm.height}\t${statSync(join(d, n)).size}`);
      }
    }
  }
  if (!argv.includes('--verify')) {
    for (const w of await makeEdgeFixtures()) console.log(`wrote fixtures/edge/${w.name}\t${w.bytes}\t${w.sha256}`);
  }
  const rows = await verifyEdgeFixtures();
  console.log('\nall edge fixtures verified:');
  for (const r of rows)
    console.log(
      `  ${r.name.padEnd(24)} ${r.format.padEnd(5)} ${r.size.padEnd(12)} ${String(r.bytes).padStart(7)}  ${r.note}`,
    );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
