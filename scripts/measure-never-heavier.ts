/**
 * Evidence for the "never heavier" rule in src/core/transform.ts: for each
 * fixture photo at 400/800/1600 px, bytes and encode time of what the real
 * pipeline gives as JPEG (mozjpeg), WebP and AVIF at one `quality` (JPEG's
 * scale, mapped per encoder), and each one's SSIM against a lossless resize.
 *
 *   npx tsx scripts/measure-never-heavier.ts [quality] [--no-avif]
 *
 * Times are CPU time of this process (libvips threads included), so a busy
 * machine changes them less than wall time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import { ssim } from 'ssim.js';
import { createConfig } from '../src/core/config.js';
import { inspectImage, transformImage } from '../src/core/transform.js';

sharp.concurrency(1);
sharp.cache(false);
const quality = Number(process.argv[2] ?? 80);
const config = createConfig();
const withAvif = !process.argv.includes('--no-avif');
const formats = (fallback: 'jpeg' | 'png') =>
  withAvif ? ([fallback, 'webp', 'auto-webp', 'avif'] as const) : ([fallback, 'webp', 'auto-webp'] as const);
const dir = new URL('../fixtures/photos/', import.meta.url);

async function rgba(input: Buffer, width: number, height: number) {
  const { data, info } = await sharp(input)
    .resize(width, height, { fit: 'fill' })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length),
    width: info.width,
    height: info.height,
  };
}

const rows: string[] = ['file\twidth\tformat\tbytes\tvsFallback\tms\tssim'];
for (const name of readdirSync(dir).sort()) {
  const input = readFileSync(new URL(name, dir));
  const info = await inspectImage(input, config);
  for (const width of [400, 800, 1600]) {
    const fallback: 'jpeg' | 'png' = info.format === 'png' ? 'png' : 'jpeg';
    const results = new Map<string, { bytes: number; ms: number; score: number }>();
    for (const format of formats(fallback)) {
      // Times: the faster of two runs (one for AVIF), on one libvips thread.
      let ms = Number.POSITIVE_INFINITY;
      let out = await transformImage(input, { width, quality, fit: 'cover', format }, config, info);
      for (let run = 0; run < (format === 'avif' ? 1 : 2); run++) {
        const start = process.cpuUsage();
        out = await transformImage(input, { width, quality, fit: 'cover', format }, config, info);
        const used = process.cpuUsage(start);
        ms = Math.min(ms, (used.user + used.system) / 1000);
      }
      const reference = await sharp(input).autoOrient().resize({ width, withoutEnlargement: true }).png().toBuffer();
      const [a, b] = await Promise.all([rgba(reference, out.width, out.height), rgba(out.data, out.width, out.height)]);
      results.set(format === 'auto-webp' ? `auto-webp→${out.format}` : format, {
        bytes: out.data.length,
        ms,
        score: ssim(a, b).mssim,
      });
    }
    const base = results.get(fallback)?.bytes ?? 1;
    for (const [format, r] of results) {
      rows.push(
        `${name}\t${width}\t${format}\t${r.bytes}\t${(r.bytes / base).toFixed(3)}\t${r.ms.toFixed(0)}\t${r.score.toFixed(4)}`,
      );
    }
  }
}
console.log(rows.join('\n'));
