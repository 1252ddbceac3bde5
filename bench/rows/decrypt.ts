/**
 * Row 5: AES-256-GCM decryption throughput of the envelope code (whole buffer,
 * as the miss path does; and the stream, as /originals/ does) against
 * `openssl speed -evp aes-256-gcm` at 16 KiB blocks on the same core.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecryptStream, decryptBuffer, encryptBuffer } from '../../src/core/envelope.js';
import type { BenchContext, BenchRow } from '../lib/context.js';
import { figure, type Line, type RowResult } from '../lib/report.js';
import { median, round } from '../lib/stats.js';

const CHUNK = 64 * 1024;

export function decryptRow(ctx: BenchContext): BenchRow {
  return { ids: [5], run: (roundIndex) => decryptRound(ctx, roundIndex) };
}

async function decryptRound(ctx: BenchContext, roundIndex: number): Promise<RowResult> {
  // The miss path decrypts originals of a few MB; 4 MiB is the articles' "medium" file.
  const wholeSize = 4 * 1024 * 1024;
  const streamSize = 16 * 1024 * 1024;
  const rounds = ctx.quick ? 1 : 2;
  ctx.progress(
    `row 5 (round ${roundIndex + 1}): decrypt throughput, ${rounds} round(s) of 1 s each: decryptBuffer, the stream, openssl speed`,
  );
  const masterKey = randomBytes(32);
  const small = encryptBuffer(randomBytes(wholeSize), masterKey);
  const large = encryptBuffer(randomBytes(streamSize), masterKey);
  // Warm-up: JIT, and the allocator's first pages.
  for (let i = 0; i < 5; i += 1) decryptBuffer(small.body, small.metadata, masterKey);
  await pipeline(Readable.from(chunks(large.body)), createDecryptStream(large.metadata, masterKey), sink());

  // Like `openssl speed`: as many operations as fit in a second, total bytes over total time. Rounds alternate
  // ours and openssl's so that a change in the machine's load hits both; the ratio is the median of the rounds'.
  const whole: number[] = [];
  const streamed: number[] = [];
  const openssl: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    whole.push(
      await forOneSecond(wholeSize, async () => {
        decryptBuffer(small.body, small.metadata, masterKey);
      }),
    );
    streamed.push(
      await forOneSecond(streamSize, () =>
        pipeline(Readable.from(chunks(large.body)), createDecryptStream(large.metadata, masterKey), sink()),
      ),
    );
    const speed = opensslSpeed(1);
    if (speed !== undefined) openssl.push(speed);
  }
  const ours = { buffer: median(whole), stream: median(streamed) };
  const wall = wallClock.splice(0);
  const reference = openssl.length === rounds ? median(openssl) : undefined;
  const ratios = {
    buffer: reference === undefined ? undefined : median(whole.map((value, i) => value / (openssl[i] as number))),
    stream: reference === undefined ? undefined : median(streamed.map((value, i) => value / (openssl[i] as number))),
  };

  const lines: Line[] = (['buffer', 'stream'] as const).map((kind) => {
    const value = ratios[kind];
    const mbps = (v: number) => `${Math.round(v).toLocaleString('en-US')} MB/s`;
    return figure(
      kind === 'buffer' ? 'decryptBuffer (miss path)' : 'createDecryptStream (originals)',
      ours[kind],
      mbps,
      {
        peerName: reference === undefined ? 'openssl absent' : 'openssl',
        peerValue: reference,
        ratio: value,
        target: '≥ 0.50×',
        check: value === undefined ? undefined : (r) => r >= 0.5,
      },
    );
  });
  return {
    id: 5,
    title: 'Decrypt throughput, AES-256-GCM (MB = 10⁶ bytes)',
    lines,
    notes: [
      `decryptBuffer on ${wholeSize / 2 ** 20} MiB, the stream on ${streamSize / 2 ** 20} MiB in ${CHUNK / 1024} KiB chunks, ` +
        `each for 1 s per round, ${rounds} round(s) alternating with openssl: ` +
        (reference === undefined
          ? 'openssl is not installed, so no ratio (apt-get install openssl).'
          : '`openssl speed -evp aes-256-gcm -bytes 16384 -seconds 1`, one core, one hot 16 KiB buffer. Both per second of ' +
            "CPU time (openssl divides by its user time), so the ratio does not move with the machine's load; wall-clock " +
            'MB/s of ours is in results.json.'),
    ],
    data: {
      bufferBytes: wholeSize,
      streamBytes: streamSize,
      rounds,
      bufferMBps: Math.round(ours.buffer),
      streamMBps: Math.round(ours.stream),
      opensslMBps: reference === undefined ? null : Math.round(reference),
      perCpuSecond: true,
      wallClockMBps: wall.map((value) => Math.round(value)),
      ratioBuffer: ratios.buffer === undefined ? null : round(ratios.buffer, 3),
      ratioStream: ratios.stream === undefined ? null : round(ratios.stream, 3),
    },
  };
}

/**
 * Runs `operation` (on `size` bytes) back to back for a second; MB per second
 * of this process's CPU time (user + system), as `openssl speed` divides by its
 * user CPU time unless told `-elapsed`: on a shared machine wall-clock MB/s
 * falls with every other process while openssl's does not, which is how one
 * earlier run read 0.77× and the next 0.46×.
 */
async function forOneSecond(size: number, operation: () => Promise<void>): Promise<number> {
  const start = performance.now();
  const cpu = process.cpuUsage();
  let done = 0;
  while (performance.now() - start < 1000) {
    await operation();
    done += 1;
  }
  const used = process.cpuUsage(cpu);
  wallClock.push((done * size) / 1e6 / ((performance.now() - start) / 1000));
  return (done * size) / 1e6 / ((used.user + used.system) / 1e6);
}

/** The same runs' wall-clock MB/s, for results.json (context: how busy the machine was). */
const wallClock: number[] = [];

function* chunks(body: Buffer): Generator<Buffer> {
  for (let offset = 0; offset < body.length; offset += CHUNK) yield body.subarray(offset, offset + CHUNK);
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
