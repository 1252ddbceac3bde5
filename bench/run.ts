/**
 * `npm run bench` / `edge-resizer bench [--quick]` (CONTRACT.md §9): every row
 * of the benchmark issue measured side by side in one run on this machine,
 * printed as a table (stdout; progress goes to stderr) and written to
 * bench/results.json. How to read it: docs/bench.md.
 *
 * The local CDN and IPX run in child processes (bench/cdn-child.ts,
 * bench/ipx-child.ts) so this process can generate load without sharing their
 * event loop; rows 5 and 6 run here while the children idle.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CdnInfo } from './cdn-child.js';
import { type Child, forkChild } from './lib/child.js';
import type { BenchContext } from './lib/context.js';
import { PHOTO_2560 } from './lib/fixtures.js';
import { eachLimit, putImage } from './lib/http.js';
import { machineInfo } from './lib/machine.js';
import { type RowResult, renderNotes, renderTable } from './lib/report.js';
import { bytesRow } from './rows/bytes.js';
import { coldStartRow } from './rows/cold-start.js';
import { decryptRow } from './rows/decrypt.js';
import { hitRow } from './rows/hit.js';
import { missRows } from './rows/miss.js';
import { scalingRow } from './rows/scaling.js';
import { streamingRow } from './rows/streaming.js';

export interface BenchOptions {
  /** A short run (under a minute): fewer iterations, shorter load, fewer photos. */
  quick: boolean;
  /** Where results go. @default bench/results.json */
  resultsFile?: string;
}

const RESULTS = new URL('./results.json', import.meta.url);

export async function runBench(options: BenchOptions): Promise<void> {
  const started = performance.now();
  const machine = machineInfo();
  const mode = options.quick ? 'quick' : 'full';
  const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);
  const tmp = await mkdtemp(join(tmpdir(), 'edge-resizer-bench-'));
  const children: Child[] = [];
  const rows: RowResult[] = [];
  try {
    progress(`${mode} run; starting the local CDN and IPX`);
    const cdn = forkChild(new URL('./cdn-child.ts', import.meta.url));
    children.push(cdn);
    const ipx = forkChild(new URL('./ipx-child.ts', import.meta.url));
    children.push(ipx);
    const ipxDir = join(tmp, 'ipx');
    await mkdir(ipxDir);
    const [cdnInfo, ipxInfo] = await Promise.all([
      cdn.call<CdnInfo>('start', { dataDir: join(tmp, 'cdn') }),
      ipx.call<{ url: string }>('start', { dir: ipxDir }),
    ]);

    const pool = Array.from({ length: (options.quick ? 8 : 30) + 2 }, (_, i) => `bench/miss/${i}.jpg`);
    progress(`uploading ${pool.length} copies of the 2560×1600 photo through the API`);
    const photo = await readFile(PHOTO_2560);
    await eachLimit(pool, 2, (key) => putImage(cdnInfo.url, cdnInfo.apiToken, key, photo));

    const ctx: BenchContext = {
      quick: options.quick,
      tmp,
      cdn,
      cdnInfo,
      ipx,
      ipxUrl: ipxInfo.url,
      ipxDir,
      pool,
      progress,
    };
    const steps: [number, () => Promise<RowResult | RowResult[]>][] = [
      [1, () => missRows(ctx)],
      [3, () => hitRow(ctx)],
      [4, () => streamingRow(ctx)],
      [5, () => decryptRow(ctx)],
      [6, () => bytesRow(ctx)],
      [7, () => coldStartRow(ctx)],
      [8, () => scalingRow(ctx)],
    ];
    // BENCH_ROWS=1,7 runs only those rows (rows 1 and 2 run together) and writes no results file.
    const only = rowFilter();
    for (const [id, step] of steps.filter(([id]) => !only || only.has(id))) {
      const stepStart = performance.now();
      try {
        const produced = [await step()].flat();
        for (const row of produced)
          row.data = { ...row.data, seconds: Math.round((performance.now() - stepStart) / 100) / 10 };
        rows.push(...produced);
      } catch (error) {
        process.exitCode = 1;
        const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
        progress(`row ${id} failed: ${message}`);
        rows.push({
          id,
          title: 'failed',
          lines: [{ measure: 'error', ours: 'failed', pass: false }],
          notes: [String(message)],
          data: { error: message },
        });
      }
    }
  } finally {
    for (const child of children) await child.close();
    await rm(tmp, { recursive: true, force: true });
  }

  rows.sort((a, b) => a.id - b.id);
  const seconds = (performance.now() - started) / 1000;
  const date = new Date().toISOString();
  process.stdout.write(
    `\nedge-resizer bench (${mode}) — ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, node ${machine.node}, ` +
      `sharp ${machine.sharp} / libvips ${machine.libvips} — ${date}\n\n${renderTable(rows)}\n\n${renderNotes(rows)}\n\n` +
      `${rows.flatMap((row) => row.lines).filter((line) => line.pass === false).length} target(s) missed; ${seconds.toFixed(0)} s.\n`,
  );
  const results = {
    bench: 'edge-resizer',
    mode,
    date,
    durationSeconds: Math.round(seconds),
    machine,
    rows: rows.map((row) => ({
      id: row.id,
      title: row.title,
      pass: row.lines.some((line) => line.pass === false) ? false : row.lines.some((line) => line.pass) ? true : null,
      lines: row.lines.map((line) => ({
        measure: line.measure,
        ours: line.ours,
        peer: line.peer ?? null,
        ratio: line.ratio === undefined || !Number.isFinite(line.ratio) ? null : Math.round(line.ratio * 1000) / 1000,
        target: line.target ?? null,
        pass: line.pass ?? null,
      })),
      notes: row.notes,
      data: row.data,
    })),
  };
  if (rowFilter()) {
    progress('BENCH_ROWS is set: results.json left as it was');
    return;
  }
  await writeFile(options.resultsFile ?? RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  progress(`wrote ${options.resultsFile ?? 'bench/results.json'}`);
}

function rowFilter(): Set<number> | undefined {
  const value = process.env.BENCH_ROWS?.trim();
  if (!value) return undefined;
  const ids = value.split(',').map((id) => (Number(id) === 2 ? 1 : Number(id)));
  return new Set(ids);
}
