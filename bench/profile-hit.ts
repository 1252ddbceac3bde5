/**
 * CPU profile of the hit path:
 * `node --openssl-legacy-provider --import tsx bench/profile-hit.ts [seconds] [closed|paced] [rate]`.
 * Starts the local CDN in this process (its s3rver and dynalite in a child,
 * bench/storage-child.ts), makes one derivative (400 px WebP), then profiles
 * this process with the inspector while the hit row's load generator,
 * in its own process, sends hits for that URL (10 connections, a closed loop
 * or paced at `rate`, default the row's). Prints the server's CPU per hit
 * (all of this process's threads, from `process.cpuUsage`) and where the main
 * thread's time goes, by module and by function. The full profile is written
 * to bench/.profile/hit.cpuprofile.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { forkChild } from './lib/child.js';
import { PHOTO_2560 } from './lib/fixtures.js';
import { putImage, timedGet } from './lib/http.js';
import type { LoadOptions, LoadResult } from './lib/loadgen.js';
import { type Profile, startProfiledServer } from './lib/profiled-server.js';
import { runQueueMs } from './lib/schedstat.js';
import { percentile } from './lib/stats.js';
import { PACED_RATE } from './rows/hit.js';

const seconds = Number(process.argv[2] ?? 4);
const mode = process.argv[3] === 'paced' ? 'paced' : 'closed';
const rate = Number(process.argv[4] ?? PACED_RATE);
const profiling = process.env.HIT_PROFILE !== '0';
const { server, close } = await startProfiledServer('profile-hit');
try {
  await putImage(server.url, server.apiToken, 'profile/hit.jpg', await readFile(PHOTO_2560));
  const url = `${server.url}/profile/hit.jpg?width=400&format=webp&quality=80`;
  await timedGet(url);
  const first = await timedGet(url);
  if (!String(first.headers['x-cache']).startsWith('Hit')) throw new Error(`expected a hit for ${url}`);
  await load(url, 1000);

  const session = new Session();
  if (profiling) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
  }
  const gc: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gc.push(entry.duration);
  });
  observer.observe({ entryTypes: ['gc'] });
  // HIT_PERF=1: `perf record` of this process too (run node with --perf-basic-prof for JS names).
  const perf = process.env.HIT_PERF === '1' ? await startPerf() : undefined;
  const threadsBefore = await threadTimes();
  const runQueue = runQueueMs();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await load(url, seconds * 1000);
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const waited = runQueueMs() - runQueue;
  const threadsAfter = await threadTimes();
  await perf?.stop();
  observer.disconnect();
  const hits = result.responses;
  const cpuUs = used.user + used.system;
  process.stdout.write(
    `${hits} hits in ${(wall / 1000).toFixed(1)} s, ${mode}${mode === 'paced' ? ` at ${rate} req/s` : ''} ` +
      `(${Math.round(hits / (result.wallMs / 1000))} req/s; p50 ${percentile(result.latencies, 50).toFixed(2)} ms, ` +
      `p99 ${percentile(result.latencies, 99).toFixed(2)} ms, ${result.non200} not 200, ${result.errors} errors)` +
      `${profiling ? ', profiled' : ''}\n` +
      `server CPU per hit: ${(cpuUs / hits).toFixed(1)} µs (user ${(used.user / hits).toFixed(1)}, system ` +
      `${(used.system / hits).toFixed(1)}); ${(cpuUs / 1000 / wall).toFixed(2)} cores; GC ${gc.length} pauses, ` +
      `${gc.reduce((a, b) => a + b, 0).toFixed(1)} ms, longest ${Math.max(0, ...gc).toFixed(1)} ms\n` +
      `waited for a CPU (run queue): server main thread ${waited.toFixed(1)} ms, load generator ` +
      `${result.runQueueMs.toFixed(1)} ms, of ${result.wallMs.toFixed(0)} ms\n` +
      `by thread (µs/hit, from /proc): ${threadDelta(threadsBefore, threadsAfter, hits)}\n\n`,
  );
  if (mode === 'paced') process.stdout.write(`${slowSpells(result.latencies, rate)}\n`);
  if (profiling) {
    const { profile } = (await session.post('Profiler.stop')) as { profile: Profile };
    session.disconnect();
    const out = fileURLToPath(new URL('./.profile/', import.meta.url));
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'hit.cpuprofile'), JSON.stringify(profile));
    process.stdout.write(summarize(profile, hits));
  }
  if (perf) process.stdout.write(await perfSummary(hits));
} finally {
  await close();
}

/** `perf record -g` of this process into bench/.profile/hit.perf.data, until `stop`. */
async function startPerf(): Promise<{ stop(): Promise<void> }> {
  const out = fileURLToPath(new URL('./.profile/', import.meta.url));
  await mkdir(out, { recursive: true });
  const child = spawn(
    'perf',
    ['record', '-F', '1999', '-g', '-p', String(process.pid), '-o', join(out, 'hit.perf.data')],
    {
      stdio: 'ignore',
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 500));
  return {
    async stop() {
      child.kill('SIGINT');
      await exited;
    },
  };
}

/**
 * This process's samples in the perf record (the load generator, its child, is left out), each put in the step of
 * the hit path of its innermost frame that names one: what native work (JSON, HTTP parsing, syscalls) serves.
 */
async function perfSummary(hits: number): Promise<string> {
  const data = fileURLToPath(new URL('./.profile/hit.perf.data', import.meta.url));
  const text = await new Promise<string>((resolve, reject) => {
    const child = spawn('perf', ['script', '-i', data, '-F', 'pid,tid,ip,sym,dso'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('exit', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
  const steps: Array<[string, RegExp]> = [
    ['viewer function (its code, in the vm)', /viewer-request\.js/],
    ['viewer harness (event, copy, result)', /viewer-function\.ts/],
    ['edge cache', /edge-cache\.ts/],
    ['image route (headers, write)', /image-route\.ts/],
    ['server (route, request log)', /src\/local\/server\.ts|src\/core\/log\.ts/],
    ['node http (parse, respond)', /node:_http|HTTPParser|llhttp|node:_http_outgoing/],
    ['node streams and sockets', /node:net|node:internal\/streams|stream_base|LibuvStreamWrap|uv__/],
    ['microtasks and timers', /RunMicrotasks|processTicksAndRejections|node:internal\/timers|uv__run_timers/],
  ];
  const total = new Map<string, number>();
  const kernel = new Map<string, number>();
  let samples = 0;
  let ours = false;
  let main = false;
  let stack: string[] = [];
  const flush = () => {
    if (ours && stack.length) {
      samples += 1;
      let step = main ? 'other (main thread)' : 'V8 helper threads (GC, compiler)';
      if (main) {
        if (stack.some((frame) => /Heap::|Scavenge|MarkCompact|GCTracer/.test(frame))) step = 'GC (main thread)';
        else
          for (const frame of stack) {
            const found = steps.find(([, pattern]) => pattern.test(frame));
            if (found) {
              step = found[0];
              break;
            }
          }
      }
      total.set(step, (total.get(step) ?? 0) + 1);
      if (stack[0]?.includes('[kernel')) kernel.set(step, (kernel.get(step) ?? 0) + 1);
    }
    stack = [];
  };
  for (const line of text.split('\n')) {
    const head = /^\s*(\d+)\/(\d+)\s/.exec(line);
    if (head) {
      flush();
      ours = head[1] === String(process.pid);
      main = head[2] === head[1];
    } else if (line.trim() === '') flush();
    else stack.push(line.trim());
  }
  flush();
  // perf samples at 1999 Hz: each sample is ~500 µs of CPU.
  const perSample = 1e6 / 1999;
  const rows = [...total]
    .sort((a, b) => b[1] - a[1])
    .map(
      ([step, count]) =>
        `  ${((count * perSample) / hits).toFixed(1).padStart(7)} µs/hit  ${step}` +
        ` (kernel ${(((kernel.get(step) ?? 0) * perSample) / hits).toFixed(1)})`,
    );
  return `\nperf, this process (${samples} samples, ${((samples * perSample) / hits).toFixed(1)} µs/hit):\n${rows.join('\n')}\n`;
}

/** CPU ticks (user + system) of each of this process's threads, by name: where `process.cpuUsage` goes. */
async function threadTimes(): Promise<Map<string, number>> {
  const times = new Map<string, number>();
  let tasks: string[] = [];
  try {
    tasks = await readdir('/proc/self/task');
  } catch {
    return times;
  }
  for (const task of tasks) {
    try {
      const stat = await readFile(`/proc/self/task/${task}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name =
        task === String(process.pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, close).replace(/\d+$/, '#');
      const fields = stat.slice(close + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      times.set(name, (times.get(name) ?? 0) + ticks);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return times;
}

function threadDelta(before: Map<string, number>, after: Map<string, number>, hits: number): string {
  // Clock ticks are 10 ms on Linux (USER_HZ 100).
  return [...after]
    .map(([name, ticks]) => [name, ((ticks - (before.get(name) ?? 0)) * 10_000) / hits] as const)
    .filter(([, us]) => us > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, us]) => `${name} ${us.toFixed(1)}`)
    .join(', ');
}

/**
 * When the responses over 5 ms came, in the completion order (which at a paced
 * rate is time): spells of them, by their approximate time into the run.
 */
function slowSpells(latencies: number[], perSecond: number): string {
  const spells: Array<{ from: number; to: number; count: number; worst: number }> = [];
  latencies.forEach((latency, index) => {
    if (latency <= 5) return;
    const at = (index / perSecond) * 1000;
    const last = spells.at(-1);
    if (last && at - last.to < 20) {
      last.to = at;
      last.count += 1;
      last.worst = Math.max(last.worst, latency);
    } else spells.push({ from: at, to: at, count: 1, worst: latency });
  });
  const slow = spells.reduce((total, spell) => total + spell.count, 0);
  return (
    `${slow} responses over 5 ms in ${spells.length} spells: ` +
    spells
      .map((spell) => `${Math.round(spell.from)} ms (${spell.count}, worst ${spell.worst.toFixed(1)} ms)`)
      .join(', ')
  );
}

/** The row's load generator (bench/lib/loadgen.ts) in its own process, so its work is not this process's. */
async function load(url: string, durationMs: number): Promise<LoadResult> {
  const child = forkChild(new URL('./loadgen-child.ts', import.meta.url));
  try {
    return await child.call<LoadResult>('run', {
      url,
      connections: 10,
      durationMs,
      mode,
      rate: mode === 'paced' ? rate : undefined,
    } satisfies LoadOptions);
  } finally {
    await child.close();
  }
}

/** Self time per module and per function, in µs per hit, and inclusive time of the hit path's steps. */
function summarize(profile: Profile, count: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, index) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  const byModule = new Map<string, number>();
  const byFunction = new Map<string, number>();
  // Inclusive time of a few named steps: a sample counts once for each step on its stack.
  const steps = ['serveImage', 'viewerEvent', 'handler', 'toQueryString', 'get', 'writeHead', 'end'];
  const inclusive = new Map<string, number>();
  for (const [id, time] of self) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === '(idle)' || frame.functionName === '(program)') continue;
    const module = moduleOf(frame.url, frame.functionName);
    byModule.set(module, (byModule.get(module) ?? 0) + time);
    const name = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + time);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)?.callFrame;
      if (!f || !/src\/local\/|viewer-request/.test(f.url)) continue;
      const step = `${f.functionName} ${shortUrl(f.url)}`;
      if (!steps.includes(f.functionName) || seen.has(step)) continue;
      seen.add(step);
      inclusive.set(step, (inclusive.get(step) ?? 0) + time);
    }
  }
  const top = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, time]) => `  ${(time / count).toFixed(1).padStart(7)} µs/hit  ${name}`)
      .join('\n');
  return (
    `main thread, by module (self time, idle excluded):\n${top(byModule, 14)}\n\n` +
    `steps of the hit path (inclusive):\n${top(inclusive, 12)}\n\nby function:\n${top(byFunction, 30)}\n`
  );
}

function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match?.[1]) return match[1];
  if (url.startsWith('node:')) return 'node:internal';
  if (url.includes('viewer-request')) return 'viewer function (vm)';
  const source = /\/(src\/[^/]+|bench)\//.exec(url);
  return source?.[1] ?? url;
}

function shortUrl(url: string): string {
  return url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/');
}
