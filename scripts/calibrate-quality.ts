/**
 * Measures the one quality scale and the AVIF effort/size policy
 * that `src/core/encoder-policy.ts` is built from. See docs/quality.md for the
 * method and the results.
 *
 *   npx tsx scripts/calibrate-quality.ts             calibrate: WebP and AVIF quality at equal score to mozjpeg q50..90
 *   npx tsx scripts/calibrate-quality.ts --efforts   AVIF effort 0..3: encode time (1 and 2 threads), bytes at equal score
 *       --efforts --timing-photos: encode time only (wall and CPU), for the photographs and the 5120 px one
 *   npx tsx scripts/calibrate-quality.ts --import    rebuild fixtures/calibration from the Debian wallpaper packages
 *
 * Options: --sizes 400,800 (output widths; a size above the source's width is skipped; default 400,800
 *          for calibration, 400,800,1200,1600 for --efforts), --large all|name,... (which photographs get
 *          sizes above 800 px; default six of them), --avif-efforts 2 (calibration), --only name1,name2
 *          (images by file stem), --out FILE (JSON), --cache FILE (JSON lines of measured points; a rerun
 *          resumes from it), --report-only (aggregate the cache, measure nothing).
 *
 * Needs `butteraugli_main` and `ssimulacra_main` (Debian `libjxl-devtools`). Runs on one core:
 * sharp.concurrency(1), one encode and one metric process at a time.
 */
import { execFile } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { promisify } from 'node:util';
import sharp, { type Sharp } from 'sharp';

const execFileP = promisify(execFile);
const REPO = join(import.meta.dirname, '..');
const PHOTO_DIRS = ['fixtures/photos', 'fixtures/calibration'];
const JPEG_TARGETS = [50, 60, 70, 80, 90] as const;

/** Photographs imported into fixtures/calibration (see its SOURCES.md for authors and licences). */
export const CALIBRATION_SOURCES: ReadonlyArray<{ out: string; from: string }> = [
  { out: 'bridge-sky.jpg', from: 'Bridge_by_Sander_Klootwijk.jpg' },
  { out: 'dragonfly-leaves.jpg', from: 'Dragonfly_by_Bolly.jpg' },
  { out: 'nuthatch-bark.jpg', from: 'Kleiber_by_Lukas_Baubkus.jpg' },
  { out: 'djembe-indoor.jpg', from: 'Wine_by_Jakkub_Mede.jpg' },
  { out: 'aitzgorri-hills.jpg', from: 'aitzgorri_by_Aitzol_Berasategi.jpg' },
  { out: 'sunset-plateau.jpg', from: 'sunset_by_Aitzol_Berasategi.jpg' },
  { out: 'clock-face.jpg', from: 'greentock_by_Peter_Nerlich.jpg' },
  { out: 'lamps-bird.jpg', from: 'free_by_Peter_Nerlich.jpg' },
  { out: 'dune-grass.jpg', from: 'mate/nature/Dune.jpg' },
  { out: 'ladybird-flowers.jpg', from: 'mate/nature/LadyBird.jpg' },
  { out: 'raindrops-leaves.jpg', from: 'mate/nature/RainDrops.jpg' },
  { out: 'storm-road.jpg', from: 'mate/nature/Storm.jpg' },
];

type Encoder = { name: string; format: 'jpeg' | 'webp' | 'avif'; effort?: number };
const JPEG: Encoder = { name: 'jpeg', format: 'jpeg' };
const WEBP: Encoder = { name: 'webp', format: 'webp' };
const avifEncoder = (effort: number): Encoder => ({ name: `avif-e${effort}`, format: 'avif', effort });

/** One encode at one quality, decoded and scored against the reference. Lower scores are better. */
interface Point {
  q: number;
  bytes: number;
  /** butteraugli 3-norm (the primary metric) */
  ba: number;
  /** butteraugli max-norm */
  baMax: number;
  /** SSIMULACRA (v1, libjxl's ssimulacra_main) */
  ss: number;
  encodeMs: number;
}
type Metric = 'ba' | 'ss';
const METRICS: readonly Metric[] = ['ba', 'ss'];

interface Reference {
  id: string;
  image: string;
  width: number;
  height: number;
  png: Buffer;
  path: string;
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const numbers = (s: string) => s.split(',').map(Number);

async function main() {
  sharp.concurrency(1);
  sharp.cache(false);
  if (process.argv.includes('--import')) return importFixtures();
  const work = mkdtempSync(join(tmpdir(), 'calibrate-'));
  try {
    if (process.argv.includes('--efforts')) await efforts(work);
    else await calibrate(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- import

async function importFixtures() {
  const dir = join(REPO, 'fixtures/calibration');
  mkdirSync(dir, { recursive: true });
  for (const { out, from } of CALIBRATION_SOURCES) {
    const info = await sharp(join('/usr/share/backgrounds', from))
      .rotate()
      .resize(1600, 1600, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' })
      .jpeg({ quality: 92, mozjpeg: true })
      .toFile(join(dir, out));
    console.log(`${out}\t${info.width}x${info.height}\t${info.size} bytes`);
  }
}

// ---------------------------------------------------------------- shared steps

function photos(): string[] {
  const only = option('--only')?.split(',');
  return PHOTO_DIRS.flatMap((d) =>
    readdirSync(join(REPO, d))
      .filter((f) => extname(f) === '.jpg')
      .filter((f) => !only || only.includes(basename(f, '.jpg')))
      .map((f) => join(REPO, d, f)),
  );
}

/**
 * Widths above 800 px cost ~4x per measurement (butteraugli alone takes ~1.2 s at 1600 px), so by default
 * they are measured on these six photographs only, chosen for spread (detail, smooth sky, dark, flat
 * grey, saturated red); `--large all` measures every photograph that is wide enough.
 */
const DEFAULT_LARGE = ['fig', 'aitzgorri-hills', 'dragonfly-leaves', 'bridge-sky', 'storm-road', 'lamps-bird'];

/** Lossless lanczos3 references at each width the source allows. */
async function references(work: string, sizes: readonly number[]): Promise<Reference[]> {
  const refs: Reference[] = [];
  const largeOption = option('--large') ?? DEFAULT_LARGE.join(',');
  const large = largeOption === 'all' ? undefined : largeOption.split(',');
  for (const file of photos()) {
    const meta = await sharp(file).metadata();
    for (const width of sizes) {
      if (width > (meta.width ?? 0)) continue;
      const image = basename(file, '.jpg');
      if (width > 800 && large && !large.includes(image)) continue;
      const id = `${image}@${width}`;
      const pipeline = sharp(file).rotate();
      if (width !== meta.width) pipeline.resize({ width, kernel: 'lanczos3' });
      const { data: png, info } = await pipeline
        .toColourspace('srgb')
        .png({ compressionLevel: 1 })
        .toBuffer({ resolveWithObject: true });
      const path = join(work, `${id}.ref.png`);
      writeFileSync(path, png);
      refs.push({ id, image, width: info.width, height: info.height, png, path });
    }
  }
  return refs;
}

function encodeOptions(pipeline: Sharp, enc: Encoder, q: number): Sharp {
  if (enc.format === 'jpeg') return pipeline.jpeg({ quality: q, mozjpeg: true });
  // Effort 4 is what the committed table was measured at; effort 6 (WEBP_POLICY) matched within 1 at q80.
  if (enc.format === 'webp') return pipeline.webp({ quality: q, effort: enc.effort ?? 4 });
  return pipeline.avif({ quality: q, effort: enc.effort ?? 2 });
}

/**
 * One encode, timed by the wall clock and by the process's CPU time (all threads). On a shared,
 * loaded machine the wall clock mostly measures the queue; CPU time of a one-thread encode is close
 * to what it takes on an idle core.
 */
async function encode(ref: Reference, enc: Encoder, q: number): Promise<{ data: Buffer; ms: number; cpuMs: number }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const data = await encodeOptions(sharp(ref.png), enc, q).toBuffer();
  const used = process.cpuUsage(cpu);
  return { data, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
}

async function score(
  ref: Reference,
  encoded: Buffer,
  work: string,
): Promise<{ ba: number; baMax: number; ss: number }> {
  const dist = join(work, 'dist.png');
  await sharp(encoded).png({ compressionLevel: 1 }).toFile(dist);
  const ba = await execFileP('butteraugli_main', [ref.path, dist, '--pnorm', '3']);
  const [maxLine, pLine] = ba.stdout.trim().split('\n');
  const ss = await execFileP('ssimulacra_main', [ref.path, dist]);
  return {
    baMax: Number(maxLine),
    ba: Number(pLine?.replace(/^3-norm:\s*/, '')),
    ss: Number(ss.stdout.trim()),
  };
}

/** The curve of one encoder on one reference: points by quality, measured on demand. */
class Curve {
  readonly points = new Map<number, Point>();
  constructor(
    readonly ref: Reference,
    readonly enc: Encoder,
    readonly work: string,
  ) {}

  async at(q: number): Promise<Point> {
    const known = this.points.get(q);
    if (known) return known;
    const { data, ms } = await encode(this.ref, this.enc, q);
    const point = { q, bytes: data.length, encodeMs: ms, ...(await score(this.ref, data, this.work)) };
    this.points.set(q, point);
    return point;
  }

  sorted(): Point[] {
    return [...this.points.values()].sort((a, b) => a.q - b.q);
  }

  /**
   * The quality at which `metric` equals `target`, by linear interpolation between measured points.
   * Scanned from the top, so the answer is the highest crossing: above it the encoder is never worse.
   * Outside the measured range the answer is clamped and flagged.
   */
  match(metric: Metric, target: number): { q: number; bytes: number; clamped: boolean } {
    const pts = this.sorted();
    for (let i = pts.length - 1; i > 0; i--) {
      const hi = pts[i] as Point;
      const lo = pts[i - 1] as Point;
      if ((lo[metric] - target) * (hi[metric] - target) <= 0 && lo[metric] !== hi[metric]) {
        const t = (lo[metric] - target) / (lo[metric] - hi[metric]);
        const q = lo.q + t * (hi.q - lo.q);
        return {
          q,
          bytes: Math.exp(Math.log(lo.bytes) + t * (Math.log(hi.bytes) - Math.log(lo.bytes))),
          clamped: false,
        };
      }
    }
    const first = pts[0] as Point;
    const last = pts[pts.length - 1] as Point;
    // Better than the target everywhere: the lowest quality measured; worse everywhere: the highest.
    return first[metric] <= target
      ? { q: first.q, bytes: first.bytes, clamped: true }
      : { q: last.q, bytes: last.bytes, clamped: true };
  }

  /** `metric` at quality q, interpolated between measured points. */
  scoreAt(metric: Metric, q: number): number {
    const pts = this.sorted();
    const first = pts[0] as Point;
    if (q <= first.q) return first[metric];
    for (let i = 1; i < pts.length; i++) {
      const hi = pts[i] as Point;
      const lo = pts[i - 1] as Point;
      if (q <= hi.q) return lo[metric] + ((q - lo.q) / (hi.q - lo.q)) * (hi[metric] - lo[metric]);
    }
    return (pts[pts.length - 1] as Point)[metric];
  }

  /**
   * Coarse grid, then one measurement at each predicted crossing (per metric) that no measured
   * point is already close to, so each interpolation spans a few quality steps only.
   */
  /** A curve of measured points only (from the cache), for matching and interpolation. */
  static of(points: readonly Point[]): Curve {
    const curve = new Curve(undefined as unknown as Reference, JPEG, '');
    for (const p of points) curve.points.set(p.q, p);
    return curve;
  }

  async refine(
    grid: readonly number[],
    targets: ReadonlyArray<Record<Metric, number>>,
    lo: number,
    hi: number,
    metrics: readonly Metric[] = ['ba'],
  ) {
    for (const q of grid) await this.at(q);
    for (const metric of metrics) {
      for (const target of targets) {
        const m = this.match(metric, target[metric]);
        const q = Math.min(hi, Math.max(lo, Math.round(m.q)));
        if (m.clamped) continue;
        const near = [...this.points.keys()].some((k) => Math.abs(k - m.q) <= 3);
        if (!near) await this.at(q);
      }
    }
  }
}

function quantile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const i = (s.length - 1) * p;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (i - lo);
}
const median = (v: readonly number[]) => quantile(v, 0.5);
const r2 = (x: number) => Math.round(x * 100) / 100;

async function versions() {
  const ba = await execFileP('dpkg-query', ['-W', 'libjxl-devtools']).catch(() => ({ stdout: '?\t?' }));
  return { sharp: sharp.versions, libjxlDevtools: ba.stdout.trim().split('\t')[1], node: process.version };
}

// ---------------------------------------------------------------- calibration

/**
 * Starting grids: the SSIMULACRA2 matches docs/quality.md compares ours with, for JPEG 50..90 plus one point beyond each end, so most
 * crossings fall between two close points; a butteraugli crossing more than 3 steps from every
 * measured point gets one more measurement (`Curve.refine`).
 */
const WEBP_GRID = [35, 48, 62, 75, 83, 90, 97];
const AVIF_GRID = [30, 42, 50, 58, 72, 85];

type CachedRef = { ref: string; curves: Record<string, Point[]> };

async function calibrate(work: string) {
  const started = Date.now();
  const sizes = numbers(option('--sizes') ?? '400,800');
  const avifEfforts = numbers(option('--avif-efforts') ?? '2');
  // Smallest size first over every photograph, so a run cut short still covers every photograph.
  const refs = (await references(work, sizes)).sort((a, b) => a.width - b.width || a.id.localeCompare(b.id));
  const encoders = [WEBP, ...avifEfforts.map(avifEncoder)];
  console.error(
    `${refs.length} references (${sizes.join('/')} px) from ${new Set(refs.map((r) => r.image)).size} photos`,
  );
  // Each finished reference is appended to the cache, and a rerun skips what the cache holds:
  // the run can be stopped and resumed, and --report-only aggregates whatever has been measured.
  const cacheFile = option('--cache') ?? join(tmpdir(), 'quality-calibration-points.jsonl');
  const cached = new Map<string, CachedRef>();
  if (existsSync(cacheFile)) {
    for (const line of readFileSync(cacheFile, 'utf8').split('\n').filter(Boolean)) {
      const entry = JSON.parse(line) as CachedRef;
      cached.set(entry.ref, entry);
    }
  }
  if (!process.argv.includes('--report-only')) {
    for (const ref of refs) {
      if (cached.has(ref.id)) continue;
      const t0 = Date.now();
      const jpeg = new Curve(ref, JPEG, work);
      for (const q of JPEG_TARGETS) await jpeg.at(q);
      const targets = JPEG_TARGETS.map((q) => jpeg.points.get(q) as Point);
      const curves: Record<string, Point[]> = { jpeg: jpeg.sorted() };
      for (const enc of encoders) {
        const curve = new Curve(ref, enc, work);
        await curve.refine(enc.format === 'webp' ? WEBP_GRID : AVIF_GRID, targets, 1, 100);
        curves[enc.name] = curve.sorted();
      }
      const entry = { ref: ref.id, curves };
      appendFileSync(cacheFile, `${JSON.stringify(entry)}\n`);
      cached.set(ref.id, entry);
      const n = Object.values(curves).reduce((a, c) => a + c.length, 0);
      console.error(`${ref.id.padEnd(28)} ${n} encodes, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
  type PerRef = { ref: string; jpeg: Curve; others: Record<string, Curve> };
  const results: PerRef[] = [...cached.values()]
    .filter((c) => encoders.every((e) => c.curves[e.name]))
    .map((c) => ({
      ref: c.ref,
      jpeg: Curve.of(c.curves.jpeg ?? []),
      others: Object.fromEntries(encoders.map((e) => [e.name, Curve.of(c.curves[e.name] ?? [])])),
    }));

  // Per encoder, per metric, per JPEG target: the matched quality and bytes on every reference.
  const summary: Record<string, Record<Metric, unknown[]>> = {};
  const tables: Record<string, Record<Metric, Array<[number, number]>>> = {};
  for (const enc of encoders) {
    summary[enc.name] = { ba: [], ss: [] };
    tables[enc.name] = { ba: [], ss: [] };
    for (const metric of METRICS) {
      let floor = 1;
      for (const jq of JPEG_TARGETS) {
        const rows = results.map((r) => {
          const j = r.jpeg.points.get(jq) as Point;
          const m = (r.others[enc.name] as Curve).match(metric, j[metric]);
          return { ref: r.ref, q: m.q, ratio: m.bytes / j.bytes, clamped: m.clamped };
        });
        const qs = rows.map((r) => r.q);
        const ratios = rows.map((r) => r.ratio);
        const q = Math.max(floor, Math.round(median(qs)));
        floor = q;
        (tables[enc.name] as Record<Metric, Array<[number, number]>>)[metric].push([jq, q]);
        // Applied back: the table's q on every reference, scored against the JPEG's score.
        const back = results.map((r) => {
          const j = (r.jpeg.points.get(jq) as Point)[metric];
          return ((r.others[enc.name] as Curve).scoreAt(metric, q) - j) / j;
        });
        (summary[enc.name] as Record<Metric, unknown[]>)[metric].push({
          jpegQuality: jq,
          q,
          qMedian: r2(median(qs)),
          qP10: r2(quantile(qs, 0.1)),
          qP25: r2(quantile(qs, 0.25)),
          qP75: r2(quantile(qs, 0.75)),
          qP90: r2(quantile(qs, 0.9)),
          bytesRatioMedian: r2(median(ratios)),
          bytesRatioP25: r2(quantile(ratios, 0.25)),
          bytesRatioP75: r2(quantile(ratios, 0.75)),
          bytesRatioMax: r2(Math.max(...ratios)),
          largerThanJpeg: ratios.filter((x) => x > 1).length,
          clamped: rows.filter((r) => r.clamped).length,
          appliedBackScoreDeltaMedian: r2(median(back)),
          appliedBackWorseBy10Percent: back.filter((x) => x > 0.1).length,
        });
      }
    }
  }

  const out = {
    date: new Date().toISOString(),
    versions: await versions(),
    method:
      'lossless lanczos3 references; mozjpeg q50..90 as targets; each encoder interpolated (highest crossing) to the JPEG score; lower scores are better',
    metrics: { ba: 'butteraugli_main 3-norm (primary)', ss: 'ssimulacra_main (SSIMULACRA 1)' },
    sizes,
    references: results.map((r) => r.ref),
    tables,
    summary,
    points: results.map((r) => ({
      ref: r.ref,
      jpeg: r.jpeg.sorted(),
      ...Object.fromEntries(Object.entries(r.others).map(([k, c]) => [k, c.sorted()])),
    })),
    cache: basename(cacheFile),
    runSeconds: Math.round((Date.now() - started) / 1000),
  };
  const file = option('--out') ?? join(work, '..', 'quality-calibration.json');
  writeFileSync(file, `${JSON.stringify(out, null, 1)}\n`);
  console.error(`wrote ${file} in ${out.runSeconds} s`);
  console.log(JSON.stringify({ tables, summary }, null, 1));
  for (const metric of METRICS) {
    console.log(`\n// by ${out.metrics[metric]}`);
    console.log(
      `export const QUALITY_SCALE = {\n${encoders
        .map(
          (e) =>
            `  ${e.format === 'avif' ? `avif /* effort ${e.effort} */` : e.name}: [${(tables[e.name] as Record<Metric, Array<[number, number]>>)[metric].map(([a, b]) => `[${a}, ${b}]`).join(', ')}],`,
        )
        .join('\n')}\n};`,
    );
  }
}

// ---------------------------------------------------------------- AVIF efforts

async function efforts(work: string) {
  const started = Date.now();
  const sizes = numbers(option('--sizes') ?? '400,800,1200,1600');
  const effortList = numbers(option('--effort-list') ?? '0,1,2,3');
  const targetsQ = numbers(option('--targets') ?? '80');
  const repeats = Number(option('--repeats') ?? '2');
  const refs = process.argv.includes('--timing-photos') ? [] : await references(work, sizes);
  console.error(`${refs.length} references (${sizes.join('/')} px)`);
  const rows: unknown[] = [];
  for (const ref of refs) {
    const jpeg = new Curve(ref, JPEG, work);
    for (const q of targetsQ) await jpeg.at(q);
    const targets = targetsQ.map((q) => jpeg.points.get(q) as Point);
    // JPEG and WebP encode time at the target, one thread, for comparison.
    const baseline: Record<string, number> = {};
    for (const enc of [JPEG, WEBP]) {
      const times: number[] = [];
      for (let i = 0; i < repeats; i++) times.push((await encode(ref, enc, 80)).ms);
      baseline[enc.name] = Math.round(Math.min(...times));
    }
    for (const effort of effortList) {
      const curve = new Curve(ref, avifEncoder(effort), work);
      await curve.refine([40, 55, 70], targets, 1, 100);
      for (const [i, jq] of targetsQ.entries()) {
        const m = curve.match('ba', (targets[i] as Point).ba);
        const q = Math.round(m.q);
        const ms: Record<string, number> = {};
        for (const threads of [1, 2]) {
          sharp.concurrency(threads);
          const times: number[] = [];
          for (let k = 0; k < repeats; k++) times.push((await encode(ref, avifEncoder(effort), q)).ms);
          ms[`threads${threads}`] = Math.round(Math.min(...times));
        }
        sharp.concurrency(1);
        rows.push({
          ref: ref.id,
          pixels: ref.width * ref.height,
          jpegQuality: jq,
          effort,
          q,
          bytes: Math.round(m.bytes),
          ...ms,
          ...baseline,
        });
        console.error(
          `${ref.id.padEnd(28)} e${effort} q${q} ${Math.round(m.bytes)} B  1t ${ms.threads1} ms  2t ${ms.threads2} ms`,
        );
      }
    }
  }
  // Per size and effort: median encode time and median bytes against effort 2 at equal score.
  type Row = {
    ref: string;
    pixels: number;
    jpegQuality: number;
    effort: number;
    q: number;
    bytes: number;
    threads1: number;
    threads2: number;
    jpeg: number;
    webp: number;
  };
  const all = rows as Row[];
  const bySize: unknown[] = [];
  for (const width of sizes) {
    for (const effort of effortList) {
      const mine = all.filter((r) => r.ref.endsWith(`@${width}`) && r.effort === effort);
      if (mine.length === 0) continue;
      const ratio = mine.map((r) => {
        const e2 = all.find((x) => x.ref === r.ref && x.effort === 2 && x.jpegQuality === r.jpegQuality);
        return e2 ? r.bytes / e2.bytes : Number.NaN;
      });
      bySize.push({
        width,
        effort,
        n: mine.length,
        megapixelsMedian: r2(median(mine.map((r) => r.pixels)) / 1e6),
        qMedian: median(mine.map((r) => r.q)),
        msThreads1: Math.round(median(mine.map((r) => r.threads1))),
        msThreads2: Math.round(median(mine.map((r) => r.threads2))),
        msPerMegapixelThreads1: Math.round(median(mine.map((r) => r.threads1 / (r.pixels / 1e6)))),
        msPerMegapixelThreads2: Math.round(median(mine.map((r) => r.threads2 / (r.pixels / 1e6)))),
        bytesVsEffort2: r2(median(ratio.filter((x) => !Number.isNaN(x)))),
        jpegMs: Math.round(median(mine.map((r) => r.jpeg))),
        webpMs: Math.round(median(mine.map((r) => r.webp))),
      });
    }
  }
  const large = process.argv.includes('--no-large') ? [] : await timeLarge(effortList, repeats, work);
  const out = {
    date: new Date().toISOString(),
    versions: await versions(),
    sizes,
    bySize,
    large,
    rows,
    runSeconds: Math.round((Date.now() - started) / 1000),
  };
  const file = option('--out') ?? join(work, '..', 'avif-efforts.json');
  writeFileSync(file, `${JSON.stringify(out, null, 1)}\n`);
  console.error(`wrote ${file} in ${out.runSeconds} s`);
  console.table(bySize);
  console.table(large);
}

/**
 * Encode time only (no score: butteraugli at 4096 px takes many seconds) for outputs above 1600 px,
 * from the 5120x2880 benchmark photograph, at AVIF q60 (about the mapped quality for JPEG 80).
 * Also the process's peak RSS after each size, a rough upper bound on the encoder's memory.
 */
async function timeLarge(effortList: readonly number[], repeats: number, work: string) {
  const file = join(REPO, 'fixtures/bench/seeding-5120x2880.jpg');
  const refs: Reference[] = process.argv.includes('--timing-photos')
    ? await references(work, numbers(option('--sizes') ?? '400,800,1200,1600'))
    : [];
  for (const width of numbers(option('--large-sizes') ?? '2048,2560,4096')) {
    const png = await sharp(file).resize({ width, kernel: 'lanczos3' }).png({ compressionLevel: 1 }).toBuffer();
    const { width: w = 0, height: h = 0 } = await sharp(png).metadata();
    refs.push({ id: `seeding@${width}`, image: 'seeding', width: w, height: h, png, path: '' });
  }
  const rows: Array<Record<string, number | string>> = [];
  for (const ref of refs) {
    const row: Record<string, number | string> = { ref: ref.id, megapixels: r2((ref.width * ref.height) / 1e6) };
    const best = async (enc: Encoder, q: number) => {
      const runs: Array<{ ms: number; cpuMs: number }> = [];
      for (let k = 0; k < repeats; k++) runs.push(await encode(ref, enc, q));
      return {
        ms: Math.round(Math.min(...runs.map((r) => r.ms))),
        cpu: Math.round(Math.min(...runs.map((r) => r.cpuMs))),
      };
    };
    const j = await best(JPEG, 80);
    const wp = await best(WEBP, 80);
    Object.assign(row, { jpegMs: j.ms, jpegCpu: j.cpu, webpMs: wp.ms, webpCpu: wp.cpu });
    for (const effort of effortList) {
      for (const threads of [1, 2]) {
        sharp.concurrency(threads);
        const t = await best(avifEncoder(effort), 60);
        row[`e${effort}t${threads}Ms`] = t.ms;
        row[`e${effort}t${threads}Cpu`] = t.cpu;
      }
      sharp.concurrency(1);
      console.error(
        `${ref.id} e${effort} wall ${row[`e${effort}t1Ms`]} / ${row[`e${effort}t2Ms`]} ms, cpu ${row[`e${effort}t1Cpu`]} / ${row[`e${effort}t2Cpu`]} ms`,
      );
    }
    row.maxRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    rows.push(row);
  }
  return rows;
}

await main();
