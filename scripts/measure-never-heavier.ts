/**
 * Evidence for the "never heavier" rule and the WebP match in src/core/never-heavier.ts and
 * src/core/encoder-policy.ts: for each fixture photograph (fixtures/photos, fixtures/calibration,
 * fixtures/bench) at 400/800/1600 px, and the 1600 px wide ones also at 1100/1300/1450 px, the
 * bytes of WebP (the policy's effort) and AVIF (the policy's effort and quality offset) at the
 * butteraugli 3-norm score of mozjpeg at `quality`, against that JPEG's bytes; the JPEG's bits per
 * pixel and the output's scale; and the least-squares fit of the WebP quality at the JPEG's score on
 * the JPEG's bits per pixel, over the downscaled cases below JPEG_KEPT_AT_SCALE.
 *
 *   npx tsx scripts/measure-never-heavier.ts [--quality 80] [--jobs 2] [--only fig,mountains] [--no-scales]
 *   npx tsx scripts/measure-never-heavier.ts --avif-efforts 0,1,2,3 [--only …]
 *
 * `--avif-efforts` measures AVIF alone, once per listed effort, on the 400/800/1600 px cases (the
 * evidence of AVIF_POLICY in src/core/encoder-policy.ts), and writes docs/avif-efforts.json instead.
 *
 * Needs `butteraugli_main` (Debian libjxl-devtools). ~12 min on two cores. Writes the raw figures to
 * docs/never-heavier.json. Encodes run on the raw resize (one lanczos3 downscale, as the pipeline
 * does), bytes at equal score interpolated in log(bytes) between the two measured qualities around it.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp, { type Sharp } from 'sharp';
import { butteraugli } from '../bench/lib/butteraugli.js';
import { eachLimit } from '../bench/lib/http.js';
import { avifQuality, avifSettings, encoderQuality, webpSettings } from '../src/core/encoder-policy.js';

sharp.concurrency(1);
const REPO = fileURLToPath(new URL('..', import.meta.url));
const option = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const QUALITY = Number(option('--quality') ?? 80);
const JOBS = Number(option('--jobs') ?? 2);
const ONLY = option('--only')?.split(',');
const AVIF_EFFORTS = option('--avif-efforts')?.split(',').map(Number);
const SCALE_WIDTHS = process.argv.includes('--no-scales') || AVIF_EFFORTS ? [] : [1100, 1300, 1450];
/** The rule's threshold (transform.ts); the fit uses the cases below it. */
const JPEG_KEPT_AT_SCALE = 2 / 3;

interface Point {
  q: number;
  bytes: number;
  score: number;
}
interface Case {
  photo: string;
  width: number;
  scale: number;
  jpegBytes: number;
  jpegScore: number;
  jpegBitsPerPixel: number;
  webp?: { points: Point[]; ratio: number; qualityAtJpegScore: number };
  avif?: { points: Point[]; ratio: number };
  /** `--avif-efforts`: AVIF at each effort, bytes against the JPEG's and the quality at its score. */
  avifByEffort?: Record<number, { ratio: number; qualityAtJpegScore: number; points: Point[] }>;
}

async function photographs(): Promise<string[]> {
  const out: string[] = [];
  for (const dir of ['fixtures/photos', 'fixtures/calibration', 'fixtures/bench']) {
    for (const name of (await readdir(join(REPO, dir))).sort()) {
      if (name.endsWith('.jpg') && (!ONLY || ONLY.some((o) => name.startsWith(o)))) out.push(join(REPO, dir, name));
    }
  }
  return out;
}

/** The point on the measured curve where the score equals `target` (log bytes and quality linear in the score). */
function atScore(points: Point[], target: number): { bytes: number; q: number } {
  const p = [...points].sort((a, b) => a.q - b.q);
  let i = p.findIndex((b, k) => k > 0 && ((p[k - 1] as Point).score - target) * (b.score - target) <= 0);
  if (i < 0) i = target > (p[0] as Point).score ? 1 : p.length - 1; // outside: extrapolate from the nearest pair
  const a = p[i - 1] as Point;
  const b = p[i] as Point;
  const t = Math.max(-1, Math.min(2, (target - a.score) / (b.score - a.score || Number.NaN)));
  return { bytes: Math.exp(Math.log(a.bytes) + t * (Math.log(b.bytes) - Math.log(a.bytes))), q: a.q + t * (b.q - a.q) };
}

async function measure(work: string, photo: string, width: number, sourceWidth: number): Promise<Case> {
  const input = await readFile(photo);
  const raw = await sharp(input).autoOrient().resize({ width }).toColourspace('srgb').raw().toBuffer({
    resolveWithObject: true,
  });
  const pixels = raw.info.width * raw.info.height;
  const image = () => sharp(raw.data, { raw: raw.info });
  const id = `${basename(photo, '.jpg')}-${width}`;
  const reference = join(work, `${id}-ref.png`);
  await image().png({ compressionLevel: 1 }).toFile(reference);
  let n = 0;
  const score = async (encoded: Buffer) => {
    const file = join(work, `${id}-${n++}.png`);
    await sharp(encoded).toColourspace('srgb').png({ compressionLevel: 1 }).toFile(file);
    const { pnorm3 } = await butteraugli(reference, file);
    await rm(file);
    return pnorm3;
  };
  const curve = async (qualities: number[], encode: (s: Sharp, q: number) => Sharp) => {
    const points: Point[] = [];
    for (const q of qualities) {
      const bytes = await encode(image(), q).toBuffer();
      points.push({ q, bytes: bytes.length, score: await score(bytes) });
    }
    return points;
  };
  const jpeg = await image().jpeg({ quality: QUALITY, mozjpeg: true }).toBuffer();
  const jpegScore = await score(jpeg);
  const out: Case = {
    photo: basename(photo),
    width,
    scale: width / sourceWidth,
    jpegBytes: jpeg.length,
    jpegScore,
    jpegBitsPerPixel: (jpeg.length * 8) / pixels,
  };
  if (AVIF_EFFORTS) {
    // Centred on the policy's quality for this size: the match is interpolated, so the centre only brackets it.
    const aq = avifQuality(QUALITY, pixels);
    out.avifByEffort = {};
    for (const effort of AVIF_EFFORTS) {
      const points = await curve([aq - 6, aq, aq + 6], (s, q) => s.avif({ quality: q, effort }));
      const match = atScore(points, jpegScore);
      out.avifByEffort[effort] = { ratio: match.bytes / jpeg.length, qualityAtJpegScore: match.q, points };
    }
    await rm(reference);
    return out;
  }
  const wq = encoderQuality('webp', QUALITY);
  const webpPoints = await curve([wq - 8, wq, wq + 8], (s, q) => s.webp({ quality: q, ...webpSettings(pixels) }));
  const webpMatch = atScore(webpPoints, jpegScore);
  out.webp = { points: webpPoints, ratio: webpMatch.bytes / jpeg.length, qualityAtJpegScore: webpMatch.q };
  if (width <= 1600) {
    const aq = avifQuality(QUALITY, pixels);
    const avifPoints = await curve([aq - 6, aq, aq + 6], (s, q) => s.avif({ quality: q, ...avifSettings(pixels) }));
    out.avif = { points: avifPoints, ratio: atScore(avifPoints, jpegScore).bytes / jpeg.length };
  }
  await rm(reference);
  return out;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const summary = (v: number[]) =>
  v.length
    ? `median ${median(v).toFixed(3)}×, ${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}×, ` +
      `${v.filter((r) => r > 1).length} of ${v.length} above 1.00×`
    : 'none';

const work = await mkdtemp(join(tmpdir(), 'never-heavier-'));
await mkdir(work, { recursive: true });
const jobs: Array<{ photo: string; width: number; sourceWidth: number }> = [];
for (const photo of await photographs()) {
  const { width: sourceWidth = 0 } = await sharp(photo).autoOrient().metadata();
  const widths = [400, 800, 1600, ...(sourceWidth === 1600 ? SCALE_WIDTHS : [])];
  for (const width of widths.filter((w) => w <= sourceWidth)) jobs.push({ photo, width, sourceWidth });
}
const cases: Case[] = [];
await eachLimit(jobs, JOBS, async (job) => {
  const c = await measure(work, job.photo, job.width, job.sourceWidth);
  cases.push(c);
  const efforts = Object.entries(c.avifByEffort ?? {}).map(
    ([effort, m]) => `  AVIF e${effort} ${m.ratio.toFixed(3)}× (q${m.qualityAtJpegScore.toFixed(1)})`,
  );
  console.log(
    `${c.photo.padEnd(26)} ${String(c.width).padStart(4)} px  scale ${c.scale.toFixed(2)}  JPEG ${c.jpegBitsPerPixel.toFixed(2)} bpp` +
      (c.webp ? `  WebP ${c.webp.ratio.toFixed(3)}× (q${c.webp.qualityAtJpegScore.toFixed(1)})` : '') +
      (c.avif ? `  AVIF ${c.avif.ratio.toFixed(3)}×` : '') +
      efforts.join(''),
  );
});
await rm(work, { recursive: true, force: true });
cases.sort((a, b) => a.photo.localeCompare(b.photo) || a.width - b.width);

if (AVIF_EFFORTS) {
  console.log(`\nAVIF at mozjpeg q${QUALITY}'s butteraugli score, by output width and effort (bytes vs the JPEG):`);
  for (const width of [400, 800, 1600, 0]) {
    const row = cases.filter((c) => width === 0 || c.width === width);
    const cells = AVIF_EFFORTS.map((effort) => {
      const matched = row.flatMap((c) => c.avifByEffort?.[effort] ?? []);
      const q = median(matched.map((m) => m.qualityAtJpegScore));
      return `e${effort} ${median(matched.map((m) => m.ratio)).toFixed(3)}× (q${q.toFixed(1)})`;
    });
    console.log(`  ${width === 0 ? 'all ' : `${width}`.padStart(4)} (${row.length} cases): ${cells.join('  ')}`);
  }
  await writeFile(
    join(REPO, 'docs/avif-efforts.json'),
    `${JSON.stringify({ quality: QUALITY, date: new Date().toISOString().slice(0, 10), sharp: sharp.versions, cases }, null, 1)}\n`,
  );
  process.exit(0);
}

type WebpCase = Case & { webp: NonNullable<Case['webp']> };
const measured = cases.filter((c): c is WebpCase => c.webp !== undefined);
const main = measured.filter((c) => [400, 800, 1600].includes(c.width));
const downscaled = main.filter((c) => c.scale < 0.99);
const ownSize = main.filter((c) => c.scale >= 0.99);
console.log(`\nAt mozjpeg q${QUALITY}'s butteraugli score (${main.length} cases at 400/800/1600 px):`);
console.log(`  AVIF, all:                        ${summary(main.flatMap((c) => (c.avif ? [c.avif.ratio] : [])))}`);
console.log(`  WebP, JPEG original downscaled:   ${summary(downscaled.map((c) => c.webp.ratio))}`);
console.log(`  WebP, JPEG original at own size:  ${summary(ownSize.map((c) => c.webp.ratio))}`);
console.log('By scale (1600 px wide photographs), WebP:');
for (const width of [400, 800, ...SCALE_WIDTHS, 1600]) {
  const row = measured.filter((c) => c.width === width && Math.abs(c.scale - width / 1600) < 0.01);
  if (row.length)
    console.log(
      `  ${width} px: ${row.map((c) => `${c.photo.replace('.jpg', '')} ${c.webp.ratio.toFixed(2)}`).join(', ')}`,
    );
}
const fitSet = main.filter((c) => c.scale < JPEG_KEPT_AT_SCALE);
const xs = fitSet.map((c) => c.jpegBitsPerPixel);
const ys = fitSet.map((c) => c.webp.qualityAtJpegScore);
const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
const my = ys.reduce((a, b) => a + b, 0) / ys.length;
const sxy = xs.reduce((a, x, i) => a + (x - mx) * ((ys[i] as number) - my), 0);
const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
const syy = ys.reduce((a, y) => a + (y - my) ** 2, 0);
const slope = sxy / sxx;
const intercept = my - slope * mx;
const residual = Math.sqrt(
  ys.reduce((a, y, i) => a + (y - (intercept + slope * (xs[i] as number))) ** 2, 0) / ys.length,
);
console.log(
  `WebP quality at the JPEG's score over the ${fitSet.length} cases below scale ${JPEG_KEPT_AT_SCALE.toFixed(2)}: ` +
    `${intercept.toFixed(1)} ${slope < 0 ? '−' : '+'} ${Math.abs(slope).toFixed(2)} × JPEG bpp ` +
    `(correlation ${(sxy / Math.sqrt(sxx * syy)).toFixed(2)}, residual SD ${residual.toFixed(1)}; ` +
    `pivot for the table's q${encoderQuality('webp', QUALITY)}: ${((encoderQuality('webp', QUALITY) - intercept) / slope).toFixed(2)} bpp)`,
);
await writeFile(
  join(REPO, 'docs/never-heavier.json'),
  `${JSON.stringify({ quality: QUALITY, date: new Date().toISOString().slice(0, 10), sharp: sharp.versions, cases }, null, 1)}\n`,
);
