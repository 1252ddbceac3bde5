/**
 * CPU profile of the miss path: `node --openssl-legacy-provider --import tsx bench/profile.ts [misses]`.
 * Starts the local CDN in this process (as `npm start` runs it; its s3rver and
 * dynalite in a child process, bench/storage-child.ts, so that their work is
 * not profiled as ours), uploads copies of the 2560×1600 photo, then profiles
 * only the misses (400 px WebP) with the inspector and prints where the main
 * thread's time goes, by module and by function. libvips works on its own
 * threads: its time shows here as idle, and in Server-Timing as `transform`.
 * The full profile is written to bench/.profile/miss.cpuprofile (open it in
 * Chrome DevTools or speedscope).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { PHOTO_2560 } from './lib/fixtures.js';
import { eachLimit, putImage, serverTiming, timedGet } from './lib/http.js';
import { type Profile, startProfiledServer } from './lib/profiled-server.js';
import { median } from './lib/stats.js';

const misses = Number(process.argv[2] ?? 40);
const { server, storage, close } = await startProfiledServer('profile');
try {
  const photo = await readFile(PHOTO_2560);
  const keys = Array.from({ length: misses + 3 }, (_, i) => `profile/${i}.jpg`);
  await eachLimit(keys, 2, (key) => putImage(server.url, server.apiToken, key, photo));
  const query = 'width=400&format=webp&quality=80';
  for (const key of keys.slice(0, 3)) await timedGet(`${server.url}/${key}?${query}`);

  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  const cpu = process.cpuUsage();
  // GC pauses on the main thread by kind (PerformanceObserver: what the profile's "(garbage collector)" samples are).
  const gcKinds = new Map<string, { count: number; ms: number }>();
  const kindName: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail;
      const kind = kindName[detail?.kind ?? 0] ?? 'other';
      const total = gcKinds.get(kind) ?? { count: 0, ms: 0 };
      total.count += 1;
      total.ms += entry.duration;
      gcKinds.set(kind, total);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  await storage.call('cpuSince');
  const totals: number[] = [];
  const phases: Record<string, number[]> = {};
  for (const key of keys.slice(3)) {
    const response = await timedGet(`${server.url}/${key}?${query}`);
    totals.push(response.total);
    for (const [name, value] of Object.entries(serverTiming(response.headers['server-timing']))) {
      phases[name] = [...(phases[name] ?? []), value];
    }
  }
  const used = process.cpuUsage(cpu);
  observer.disconnect();
  const storageCpu = await storage.call<number>('cpuSince');
  const { profile } = (await session.post('Profiler.stop')) as { profile: Profile };
  session.disconnect();

  const out = fileURLToPath(new URL('./.profile/', import.meta.url));
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'miss.cpuprofile'), JSON.stringify(profile));
  const phaseText = Object.entries(phases)
    .map(([name, values]) => `${name} ${median(values).toFixed(1)}`)
    .join(', ');
  process.stdout.write(
    `${misses} misses: median ${median(totals).toFixed(1)} ms; Server-Timing medians (ms): ${phaseText}\n` +
      `CPU per miss: this process (all threads: JS, libvips) ${((used.user + used.system) / 1000 / misses).toFixed(1)} ms, ` +
      `the storage servers ${(storageCpu / misses).toFixed(1)} ms\n` +
      `GC pauses per miss: ${[...gcKinds]
        .map(([kind, total]) => `${kind} ${(total.count / misses).toFixed(1)} × = ${(total.ms / misses).toFixed(2)} ms`)
        .join(', ')}\n\n`,
  );
  process.stdout.write(summarize(profile, misses));
} finally {
  await close();
}

/** Self time per module and per function, in ms per miss. */
function summarize(profile: Profile, count: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // The profiler's own work (Profiler.stop through node:inspector) is not the miss path's.
  const profilerOwn = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      if (byId.get(at)?.callFrame.url === 'node:inspector') return true;
    }
    return false;
  };
  const self = new Map<number, number>();
  profile.samples.forEach((id, index) => {
    if (!profilerOwn(id)) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000);
  });
  const byModule = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, time] of self) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const module = moduleOf(frame.url, frame.functionName);
    byModule.set(module, (byModule.get(module) ?? 0) + time);
    const name = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + time);
  }
  const wall = (profile.endTime - profile.startTime) / 1000;
  const top = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([name, time]) =>
          `  ${(time / count).toFixed(2).padStart(6)} ms/miss  ${((100 * time) / wall).toFixed(1).padStart(5)}%  ${name}`,
      )
      .join('\n');
  return `main thread, by module (self time):\n${top(byModule, 12)}\n\nby function:\n${top(byFunction, 25)}\n`;
}

function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match?.[1]) return match[1];
  if (url.startsWith('node:')) return 'node:internal';
  const source = /\/(src\/[^/]+|bench)\//.exec(url);
  return source?.[1] ?? url;
}

function shortUrl(url: string): string {
  return url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/');
}
