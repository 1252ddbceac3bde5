/**
 * Row 5: AES-256-GCM decryption throughput of the code the product runs, against
 * `openssl speed -evp aes-256-gcm` at 16 KiB blocks on the same core:
 *   - the miss path (src/core/render.ts): `decryptInto` over the stored body's
 *     chunks as the S3 client yields them, into a plaintext buffer from a
 *     `PlaintextPool`, acquired and released around each decrypt as a miss does;
 *   - /originals (src/api/originals.ts): the stored body's chunks through
 *     `createDecryptStream` into the response (here a sink).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecryptStream, decryptInto, encryptBuffer, TAG_BYTES } from '../../src/core/envelope.js';
import { createPlaintextPool } from '../../src/core/plaintext-pool.js';
import type { BenchContext, BenchRow } from '../lib/context.js';
import { figure, type Line, type RowResult } from '../lib/report.js';
import { median, round } from '../lib/stats.js';

/** What the S3 client yields from s3rver here (measured: 63 of 66 chunks of a 4 MiB body). */
const CHUNK = 64 * 1024;
/** A TLS record's worth, what a GetObject over HTTPS tends to yield: recorded for context, not a target. */
const TLS_CHUNK = 16 * 1024;

export function decryptRow(ctx: BenchContext): BenchRow {
  return { ids: [5], run: (roundIndex) => decryptRound(ctx, roundIndex) };
}

async function decryptRound(ctx: BenchContext, roundIndex: number): Promise<RowResult> {
  // The miss path decrypts originals of a few MB; 4 MiB is the articles' "medium" file.
  const missSize = 4 * 1024 * 1024;
  const streamSize = 16 * 1024 * 1024;
  const rounds = ctx.quick ? 1 : 2;
  ctx.progress(
    `row 5 (round ${roundIndex + 1}): decrypt throughput, ${rounds} round(s) of 1 s each: the miss path's decryptInto, the /originals stream, openssl speed`,
  );
  const masterKey = randomBytes(32);
  const small = encryptBuffer(randomBytes(missSize), masterKey);
  const large = encryptBuffer(randomBytes(streamSize), masterKey);
  const pool = createPlaintextPool({ maxIdle: 1 });
  const miss = async (chunk: number) => {
    const plaintext = pool.acquire(small.body.length - TAG_BYTES);
    try {
      await decryptInto(asyncChunks(small.body, chunk), small.metadata, masterKey, plaintext);
    } finally {
      pool.release(plaintext);
    }
  };
  const stream = () =>
    pipeline(Readable.from(chunks(large.body, CHUNK)), createDecryptStream(large.metadata, masterKey), sink());
  // Warm-up: JIT, the pool's buffer, the allocator's first pages.
  for (let i = 0; i < 5; i += 1) await miss(CHUNK);
  await stream();

  // Like `openssl speed`: as many operations as fit in a second, total bytes over total time. Rounds alternate
  // ours and openssl's so that a change in the machine's load hits both; the ratio is the median of the rounds'.
  const missed: Measured[] = [];
  const streamed: Measured[] = [];
  const tls: Measured[] = [];
  const openssl: number[] = [];
  for (let r = 0; r < rounds; r += 1) {
    missed.push(await forOneSecond(missSize, () => miss(CHUNK)));
    streamed.push(await forOneSecond(streamSize, stream));
    tls.push(await forOneSecond(missSize, () => miss(TLS_CHUNK)));
    const speed = opensslSpeed(1);
    if (speed !== undefined) openssl.push(speed);
  }
  const perCpu = (runs: Measured[]) => runs.map((run) => run.perCpu);
  const ours = { miss: median(perCpu(missed)), stream: median(perCpu(streamed)) };
  const reference = openssl.length === rounds ? median(openssl) : undefined;
  const ratioOf = (runs: Measured[]) =>
    reference === undefined ? undefined : median(runs.map((run, i) => run.perCpu / (openssl[i] as number)));
  const ratios = { miss: ratioOf(missed), stream: ratioOf(streamed) };

  const mbps = (v: number) => `${Math.round(v).toLocaleString('en-US')} MB/s`;
  const lines: Line[] = (['miss', 'stream'] as const).map((kind) => {
    const value = ratios[kind];
    return figure(kind === 'miss' ? 'decryptInto (miss path)' : 'createDecryptStream (/originals)', ours[kind], mbps, {
      peerName: reference === undefined ? 'openssl absent' : 'openssl',
      peerValue: reference,
      ratio: value,
      target: '≥ 0.50×',
      check: value === undefined ? undefined : (r) => r >= 0.5,
    });
  });
  const kernel = (runs: Measured[]) => round(median(runs.map((run) => run.kernelShare)), 2);
  const mainShare = (runs: Measured[]) =>
    runs.some((run) => run.mainThreadShare === null)
      ? null
      : round(median(runs.map((run) => run.mainThreadShare as number)), 2);
  const tlsRatio = ratioOf(tls);
  return {
    id: 5,
    title: 'Decrypt throughput, AES-256-GCM (MB = 10⁶ bytes)',
    lines,
    notes: [
      `The code the product runs: the miss path's \`decryptInto\` on a ${missSize / 2 ** 20} MiB original arriving in ` +
        `${CHUNK / 1024} KiB chunks (as the S3 client yields them from s3rver), into a reused plaintext buffer (the ` +
        `miss path's pool), and /originals' \`createDecryptStream\` on ${streamSize / 2 ** 20} MiB in ${CHUNK / 1024} KiB ` +
        `chunks; each for 1 s per round, ${rounds} round(s) alternating with openssl: ` +
        (reference === undefined
          ? 'openssl is not installed, so no ratio (apt-get install openssl).'
          : '`openssl speed -evp aes-256-gcm -bytes 16384 -seconds 1`, one core, one hot 16 KiB buffer. Both per second of ' +
            "CPU time (openssl divides by its user time; ours counts every thread of this process, V8's garbage " +
            "collector's included), so the ratio does not move with the machine's load as wall-clock MB/s would. " +
            'Every decipher output is a new Buffer, and each ~64 MB of them makes V8 mark the whole heap: ' +
            'results.json has the full collections per second, the decrypting thread’s share of the CPU, the ' +
            `kernel's share, wall-clock MB/s, and the miss path in ${TLS_CHUNK / 1024} KiB chunks (a TLS record, ` +
            'what a GetObject over HTTPS yields).'),
    ],
    data: {
      missBytes: missSize,
      streamBytes: streamSize,
      chunkBytes: CHUNK,
      rounds,
      missMBps: Math.round(ours.miss),
      streamMBps: Math.round(ours.stream),
      missTlsChunksMBps: Math.round(median(perCpu(tls))),
      opensslMBps: reference === undefined ? null : Math.round(reference),
      perCpuSecond: true,
      wallClockMBps: {
        miss: missed.map((run) => Math.round(run.wall)),
        stream: streamed.map((run) => Math.round(run.wall)),
      },
      kernelShare: { miss: kernel(missed), stream: kernel(streamed) },
      mainThreadShare: { miss: mainShare(missed), stream: mainShare(streamed) },
      majorGcsPerSecond: { miss: missed.map((run) => run.majorGcs), stream: streamed.map((run) => run.majorGcs) },
      ratioMiss: ratios.miss === undefined ? null : round(ratios.miss, 3),
      ratioStream: ratios.stream === undefined ? null : round(ratios.stream, 3),
      ratioMissTlsChunks: tlsRatio === undefined ? null : round(tlsRatio, 3),
    },
  };
}

interface Measured {
  /** MB per second of this process's CPU time. */
  perCpu: number;
  /** MB per second of wall-clock time. */
  wall: number;
  /** The kernel's share of that CPU time (page faults, mostly). */
  kernelShare: number;
  /** The decrypting (main) thread's share of that CPU time; the rest is other threads, V8's collector above all. */
  mainThreadShare: number | null;
  /** Full (mark-compact) garbage collections during the second. */
  majorGcs: number;
}

/**
 * Runs `operation` (on `size` bytes) back to back for a second; MB per second
 * of this process's CPU time (user + system), as `openssl speed` divides by its
 * user CPU time unless told `-elapsed`: on a shared machine wall-clock MB/s
 * falls with every other process while openssl's does not, which is how one
 * earlier run read 0.77× and the next 0.46×.
 */
async function forOneSecond(size: number, operation: () => Promise<void>): Promise<Measured> {
  let majorGcs = 0;
  const gcs = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const { detail } = entry as PerformanceEntry & { detail?: { kind?: number } };
      if (detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majorGcs += 1;
    }
  });
  gcs.observe({ entryTypes: ['gc'] });
  const start = performance.now();
  const cpu = process.cpuUsage();
  const thread = threadCpuMicros();
  let done = 0;
  while (performance.now() - start < 1000) {
    await operation();
    done += 1;
  }
  const used = process.cpuUsage(cpu);
  const threadUsed = thread === undefined ? undefined : (threadCpuMicros() ?? thread) - thread;
  const wallSeconds = (performance.now() - start) / 1000;
  // GC entries arrive on a later turn of the event loop.
  await new Promise((resolve) => setTimeout(resolve, 0));
  gcs.disconnect();
  const mb = (done * size) / 1e6;
  const total = used.user + used.system;
  return {
    perCpu: mb / (total / 1e6),
    wall: mb / wallSeconds,
    kernelShare: used.system / total,
    mainThreadShare: threadUsed === undefined ? null : Math.min(1, threadUsed / total),
    majorGcs,
  };
}

/** CPU time of the calling thread in µs (Linux: /proc/thread-self/schedstat); undefined elsewhere. */
function threadCpuMicros(): number | undefined {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1000;
  } catch {
    return undefined;
  }
}

/** `body` in `size`-byte views, as an S3 body yields its chunks. */
function* chunks(body: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < body.length; offset += size) yield body.subarray(offset, offset + size);
}

/** The same, iterated asynchronously as the miss path iterates the S3 body. */
async function* asyncChunks(body: Buffer, size: number): AsyncGenerator<Buffer> {
  yield* chunks(body, size);
}

function sink(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

/**
 * `openssl speed` at 16 KiB blocks, in MB/s (openssl prints thousands of bytes
 * per second: "AES-256-GCM  3455827.97k"); undefined when openssl is absent.
 */
export function opensslSpeed(seconds: number): number | undefined {
  const result = spawnSync(
    'openssl',
    ['speed', '-evp', 'aes-256-gcm', '-bytes', '16384', '-seconds', String(seconds)],
    {
      encoding: 'utf8',
      timeout: (seconds + 20) * 1000,
    },
  );
  if (result.error || result.status !== 0) return undefined;
  const row = result.stdout.split('\n').find((text) => /^aes-256-gcm\s/i.test(text.trim()));
  const values = row?.match(/([\d.]+)k/g);
  const last = values?.[values.length - 1];
  return last === undefined ? undefined : Number.parseFloat(last) / 1000;
}
