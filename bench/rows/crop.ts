/**
 * Row 10: what a smart crop costs on the miss path. The same
 * 2560×1600 photo, cropped to 400×400 through the local CDN with the default
 * centre (focal, no stored point), `gravity=attention` and `gravity=entropy`;
 * the key's derivatives are purged before each request so every one is a miss,
 * and the three gravities alternate so a noisy spell touches each alike. The
 * transform's own share comes from `Server-Timing`.
 */
import type { BenchContext, BenchRow } from '../lib/context.js';
import { serverTiming, timedGet } from '../lib/http.js';
import { figure, type Line } from '../lib/report.js';
import { median, ms, round } from '../lib/stats.js';

const CROPS = { centre: '', attention: '&gravity=attention', entropy: '&gravity=entropy' } as const;
type Crop = keyof typeof CROPS;

export function cropRow(ctx: BenchContext): BenchRow {
  const input = ctx.inputs.photo2560;
  const iterations = ctx.quick ? 3 : 8;
  return {
    ids: [10],
    async run(roundIndex) {
      ctx.progress(`row 10 (round ${roundIndex + 1}): 400×400 cover misses, centre vs attention vs entropy`);
      const miss: Record<Crop, number[]> = { centre: [], attention: [], entropy: [] };
      const transform: Record<Crop, number[]> = { centre: [], attention: [], entropy: [] };
      const names = Object.keys(CROPS) as Crop[];
      for (let n = -1; n < iterations; n += 1) {
        for (let i = 0; i < names.length; i += 1) {
          const crop = names[(i + Math.max(0, n)) % names.length] as Crop;
          await ctx.purge(input.key);
          const response = await timedGet(`${ctx.cdnInfo.url}/${input.key}?width=400&height=400${CROPS[crop]}`);
          if (response.status !== 200 || !String(response.headers['x-cache']).startsWith('Miss')) {
            throw new Error(`expected a 200 miss for the ${crop} crop, got ${response.status}`);
          }
          if (n < 0) continue; // one unrecorded pass: JIT and the original's first read
          miss[crop].push(response.total);
          const phases = serverTiming(response.headers['server-timing']);
          if (phases.transform !== undefined) transform[crop].push(phases.transform);
        }
      }
      const centre = median(miss.centre);
      const lines: Line[] = [figure('miss, 400×400 centre crop (median)', centre, ms)];
      for (const crop of ['attention', 'entropy'] as const) {
        lines.push(
          figure(`miss, 400×400 gravity=${crop} (median)`, median(miss[crop]), ms, {
            peerName: 'centre',
            peerValue: centre,
          }),
        );
      }
      return {
        id: 10,
        title: `smart crop on the miss path (${input.label} → 400×400)`,
        lines,
        notes: [
          `Transform alone (Server-Timing, median): centre ${ms(median(transform.centre))}, attention ${ms(median(transform.attention))}, entropy ${ms(median(transform.entropy))}.`,
        ],
        data: Object.fromEntries(
          names.map((crop) => [
            crop,
            { missMs: round(median(miss[crop]), 1), transformMs: round(median(transform[crop]), 1) },
          ]),
        ),
      };
    },
  };
}
