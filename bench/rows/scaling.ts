/**
 * Row 8: how the miss path's cost grows — with the output width (one 14.7 MP
 * photo, 200 px to 4096 px) and with the input's megapixels (1, 4, 16 MP in,
 * 400 px out). Each through the local CDN (a 302 and its follow-up counted
 * together when the output is too large to generate), beside the bare
 * transform of the same bytes.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchContext, BenchRow } from '../lib/context.js';
import { PHOTO_5120, photoOfMegapixels, variantOf } from '../lib/fixtures.js';
import { eachLimit, putImage, timedGetFollow } from '../lib/http.js';
import { figure, type Line, type RowResult } from '../lib/report.js';
import { median, ms, round } from '../lib/stats.js';

const WIDTHS = [200, 400, 800, 1600, 2560, 4096];
const MEGAPIXELS = [1, 4, 16];
const QUICK_WIDTHS = [200, 1600];

interface Point {
  label: string;
  ours: number;
  bare: number;
  redirected: boolean;
  bytes: number;
  /** Server-Timing medians of the miss (ms). */
  phases: Record<string, number>;
}

export function scalingRow(ctx: BenchContext): BenchRow {
  let inputs: { name: string; file: string; body: Buffer }[] | undefined;
  return {
    ids: [8],
    async run(roundIndex) {
      if (!inputs) {
        const photo = await readFile(PHOTO_5120);
        const made: { name: string; file: string; body: Buffer }[] = [{ name: 'w', file: PHOTO_5120, body: photo }];
        for (const megapixels of MEGAPIXELS) {
          const file = join(ctx.tmp, `photo-${megapixels}mp.jpg`);
          const body = await photoOfMegapixels(megapixels);
          await writeFile(file, body);
          made.push({ name: `${megapixels}mp`, file, body });
        }
        const { url, apiToken } = ctx.cdnInfo;
        await eachLimit(made, 2, (input) => putImage(url, apiToken, `bench/scale/${input.name}.jpg`, input.body));
        inputs = made;
      }
      return scalingRound(ctx, roundIndex, inputs);
    },
  };
}

async function scalingRound(
  ctx: BenchContext,
  roundIndex: number,
  inputs: { name: string; file: string; body: Buffer }[],
): Promise<RowResult> {
  const copies = 1;
  ctx.progress(
    `row 8 (round ${roundIndex + 1}): scaling, widths ${(ctx.quick ? QUICK_WIDTHS : WIDTHS).join('/')} and MP in`,
  );
  const { url } = ctx.cdnInfo;
  const photo = (inputs[0] as { body: Buffer }).body;

  const measure = async (name: string, file: string, query: string, label: string): Promise<Point> => {
    const ours: number[] = [];
    const bare: number[] = [];
    let redirected = false;
    let size = 0;
    const timings: Record<string, number>[] = [];
    for (let c = 0; c < copies; c += 1) {
      await ctx.purge(`bench/scale/${name}.jpg`);
      const response = await timedGetFollow(`${url}/bench/scale/${name}.jpg?${query}`);
      if (response.status !== 200) throw new Error(`scaling ${label}: ${response.status}`);
      ours.push(response.total);
      timings.push(response.missTiming);
      redirected ||= response.redirected;
      size = response.bytes;
      bare.push(await ctx.cdn.call<number>('bare', { file, variant: variantOf(query) }));
    }
    const phases = Object.fromEntries(
      ['fetch', 'decrypt', 'transform', 'store'].map((phase) => [
        phase,
        round(median(timings.map((t) => t[phase] ?? Number.NaN))),
      ]),
    );
    return { label, ours: median(ours), bare: median(bare), redirected, bytes: size, phases };
  };

  // One unmeasured miss first: the first touch of a 14.7 MP original pays for JIT and allocator growth.
  if (roundIndex === 0) await timedGetFollow(`${url}/bench/scale/w.jpg?width=150&format=webp&quality=80`);
  const byWidth: Point[] = [];
  // Quick: fewer points (a 4096 px output alone takes seconds on a busy machine).
  for (const width of ctx.quick ? QUICK_WIDTHS : WIDTHS) {
    byWidth.push(await measure('w', PHOTO_5120, `width=${width}&format=webp&quality=80`, `${width} px`));
  }
  const byInput: Point[] = [];
  for (const [index, megapixels] of MEGAPIXELS.entries()) {
    const input = inputs[index + 1];
    if (!input || (ctx.quick && megapixels === 4)) continue;
    byInput.push(await measure(input.name, input.file, 'width=400&format=webp&quality=80', `${megapixels} MP`));
  }

  const toLine = (prefix: string, point: Point): Line =>
    figure(`${prefix} ${point.label}${point.redirected ? ' (302 + hit)' : ''}`, point.ours, ms, {
      peerName: 'bare',
      peerValue: point.bare,
    });
  const first = byWidth[0];
  const last = byWidth[byWidth.length - 1];
  const small = byInput[0];
  const large = byInput[byInput.length - 1];
  const growth = (a?: Point, b?: Point) => (a && b ? (b.ours / a.ours).toFixed(1) : 'n/a');
  const bareGrowth = (a?: Point, b?: Point) => (a && b ? (b.bare / a.bare).toFixed(1) : 'n/a');
  return {
    id: 8,
    title: 'Scaling of the miss path: output width (14.7 MP JPEG in) and input size (400 px WebP out)',
    lines: [...byWidth.map((point) => toLine('out', point)), ...byInput.map((point) => toLine('in', point))],
    notes: [
      `One miss per point per round (derivatives purged before each). Output ${first?.label} → ${last?.label} costs ${growth(first, last)}× (bare ` +
        `${bareGrowth(first, last)}×); input ${small?.label} → ${large?.label} costs ${growth(small, large)}× (bare ${bareGrowth(small, large)}×): ` +
        'JPEG shrink-on-load decodes at 1/2, 1/4 or 1/8 scale when the output allows, so cost follows output pixels more than ' +
        `input pixels. Outside the transform, the miss pays for moving the original: fetch ${first?.phases.fetch} ms for the ` +
        `14.7 MP JPEG (${(photo.length / 1e6).toFixed(1)} MB), ${large?.phases.fetch} ms for 16 MP.`,
    ],
    data: {
      copies,
      byWidth: byWidth.map(pointData),
      byInputMegapixels: byInput.map(pointData),
    },
  };
}

function pointData(point: Point) {
  return {
    label: point.label,
    oursMs: round(point.ours),
    bareMs: round(point.bare),
    serverTimingMs: point.phases,
    outputBytes: point.bytes,
    redirected: point.redirected,
  };
}
