/**
 * `npm run bench` / `edge-resizer bench [--quick]`: every row
 * of the benchmark issue measured side by side in one run on this machine,
 * printed as a table (stdout; progress goes to stderr) and written to
 * bench/results.json. How to read it: docs/bench.md.
 *
 * The local CDN and IPX run in child processes (bench/cdn-child.ts,
 * bench/ipx-child.ts) so this process can generate load without sharing their
 * event loop; rows 5 and 6 run here while the children idle.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CdnInfo } from './cdn-child.js';
import { type Child, forkChild } from './lib/child.js';
import type { BenchContext, BenchRow } from './lib/context.js';
import { benchPng, PHOTO_2560, PHOTO_5120 } from './lib/fixtures.js';
import { eachLimit, purgeDerivatives, putImage } from './lib/http.js';
import { machineInfo } from './lib/machine.js';
import { mergeRounds, type RowResult, renderNotes, renderTable } from './lib/report.js';
import { bytesRow } from './rows/bytes.js';
import { coldStartRow } from './rows/cold-start.js';
import { cropRow } from './rows/crop.js';
import { decryptRow } from './rows/decrypt.js';
import { distanceRow } from './rows/distance.js';
import { hitRow } from './rows/hit.js';
import { missRows } from './rows/miss.js';
import { scalingRow } from './rows/scaling.js';
import { streamingRow } from './rows/streaming.js';
import { throughputRow } from './rows/throughput.js';
import type { StorageInfo } from './storage-child.js';

export interface BenchOptions {
  /** A short run (under a minute): fewer iterations, shorter load, fewer photos. */
  quick: boolean;
  /** Where results go. @default bench/results.json */
  resultsFile?: string;
}

const RESULTS = new URL('./results.json', import.meta.url);

export async function runBench(options: BenchOptions): Promise<void> {
  const started = performance.now();
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3) || 3);
  const machine = machineInfo();
  const mode = options.quick ? 'quick' : 'full';
  const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);
  const tmp = await mkdtemp(join(tmpdir(), 'edge-resizer-bench-'));
  const children: Child[] = [];
  const rows: RowResult[] = [];
  /** The 1-minute load average as each round started: a busy machine explains a wide spread. */
  const roundLoad: number[] = [];
  try {
    progress(`${mode} run; starting the local CDN, its storage servers and IPX`);
    const storage = forkChild(new URL('./storage-child.ts', import.meta.url));
    children.push(storage);
    const storageInfo = await storage.call<StorageInfo>('start', { dataDir: join(tmp, 'storage') });
    const cdn = forkChild(new URL('./cdn-child.ts', import.meta.url));
    children.unshift(cdn);
    const ipx = forkChild(new URL('./ipx-child.ts', import.meta.url));
    children.push(ipx);
    const ipxDir = join(tmp, 'ipx');
    await mkdir(ipxDir);
    const [cdnInfo, ipxInfo] = await Promise.all([
      cdn.call<CdnInfo>('start', { dataDir: join(tmp, 'cdn'), ...storageInfo }),
      ipx.call<{ url: string }>('start', { dir: ipxDir }),
    ]);

    const photo = await readFile(PHOTO_2560);
    const png = await benchPng();
    const pngFile = join(tmp, 'seeding-5120x2880.png');
    await writeFile(pngFile, png);
    const inputs = {
      photo2560: { label: '2560×1600 JPEG', file: PHOTO_2560, key: 'bench/limit/photo-2560.jpg', bytes: photo.length },
      photo5120: {
        label: '14.7 MP JPEG',
        file: PHOTO_5120,
        key: 'bench/limit/photo-5120.jpg',
        bytes: (await readFile(PHOTO_5120)).length,
      },
      png: { label: '13 MB PNG', file: pngFile, key: 'bench/limit/photo-5120.png', bytes: png.length },
    };
    const pool = Array.from({ length: options.quick ? 8 : 16 }, (_, i) => `bench/pool/${i}.jpg`);
    progress(`uploading the limit row's 3 originals and ${pool.length} copies of the 2560×1600 photo through the API`);
    for (const input of Object.values(inputs)) {
      await putImage(cdnInfo.url, cdnInfo.apiToken, input.key, await readFile(input.file));
    }
    await eachLimit(pool, 2, (key) => putImage(cdnInfo.url, cdnInfo.apiToken, key, photo));

    const ctx: BenchContext = {
      quick: options.quick,
      rounds,
      tmp,
      cdn,
      cdnInfo,
      storage,
      ipx,
      ipxUrl: ipxInfo.url,
      ipxDir,
      inputs,
      pool,
      purge: (key) => purgeDerivatives(cdnInfo.url, cdnInfo.apiToken, key),
      progress,
    };
    const all: BenchRow[] = [
      missRows(ctx),
      throughputRow(ctx),
      hitRow(ctx),
      streamingRow(ctx),
      decryptRow(ctx),
      bytesRow(ctx),
      coldStartRow(ctx),
      scalingRow(ctx),
      cropRow(ctx),
      distanceRow(ctx),
    ];
    // BENCH_ROWS=1,7 runs only those rows (rows 1 and 2 run together) and writes no results file.
    const only = rowFilter();
    const selected = all.filter((row) => !only || row.ids.some((id) => only.has(id)));
    // Round by round, every row in turn: a noisy spell of the machine then touches several rows once
    // rather than one row three times.
    const perId = new Map<number, RowResult[]>();
    const failed = new Set<BenchRow>();
    for (let roundIndex = 0; roundIndex < rounds; roundIndex += 1) {
      roundLoad.push(Math.round((os.loadavg()[0] ?? 0) * 100) / 100);
      for (const row of selected) {
        if ((row.once && roundIndex > 0) || failed.has(row)) continue;
        const stepStart = performance.now();
        try {
          const produced = [await row.run(roundIndex)].flat();
          for (const result of produced) {
            result.data = { ...result.data, seconds: Math.round((performance.now() - stepStart) / 100) / 10 };
            perId.set(result.id, [...(perId.get(result.id) ?? []), result]);
          }
        } catch (error) {
          process.exitCode = 1;
          failed.add(row);
          const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
          progress(`row ${row.ids.join('-')} failed: ${message}`);
          if (process.env.DEBUG) process.stderr.write(`${error instanceof Error ? error.stack : error}\n`);
          for (const id of row.ids) perId.delete(id);
          rows.push({
            id: row.ids[0] as number,
            title: 'failed',
            lines: [{ measure: 'error', ours: 'failed', pass: false }],
            notes: [String(message)],
            data: { error: message },
          });
        }
      }
    }
    for (const results of perId.values()) rows.push(mergeRounds(results));
    for (const row of all) await row.close?.();
  } finally {
    for (const child of children) await child.close();
    await rm(tmp, { recursive: true, force: true });
  }

  rows.sort((a, b) => a.id - b.id);
  const seconds = (performance.now() - started) / 1000;
  const date = new Date().toISOString();
  process.stdout.write(
    `\nedge-resizer bench (${mode}) — ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, node ${machine.node}, ` +
      `sharp ${machine.sharp} / libvips ${machine.libvips} — ${date}; load average at each round's start ${roundLoad.join(' / ')}\n\n${renderTable(rows)}\n\n${renderNotes(rows)}\n\n` +
      `${rows.flatMap((row) => row.lines).filter((line) => line.pass === false).length} target(s) missed; ${seconds.toFixed(0)} s.\n`,
  );
  const results = {
    bench: 'edge-resizer',
    mode,
    rounds,
    roundLoadAverage: roundLoad,
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
        spread: line.spread ?? null,
        ratioSpread: line.ratioSpread ?? null,
        target: line.target ?? null,
        pass: line.pass ?? null,
        held: line.held ?? null,
        perRound: line.perRound
          ? {
              ours: line.perRound.ours.map((v) => (v === null ? null : Math.round(v * 1000) / 1000)),
              peer: line.perRound.peer.map((v) => (v === null ? null : Math.round(v * 1000) / 1000)),
              ratio: line.perRound.ratio.map((v) => (v === null ? null : Math.round(v * 1000) / 1000)),
              pass: line.perRound.pass,
            }
          : null,
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
