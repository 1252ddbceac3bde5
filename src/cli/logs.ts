/**
 * `edge-resizer logs --stage <s> [--function F] [--since 15m] [--follow] [--filter P] [--json]`:
 * one function's log events from every region where it ran, merged by time,
 * one line each: `<time> <region> <request id> <message>`, or with `--json`
 * one JSON object per event with the raw message.
 *
 * Lambda@Edge replicas log in the region that ran them, so the command looks
 * for the function's log groups in every edge region (`DescribeLogGroups` by
 * name prefix), reads each with `FilterLogEvents` (paginated, bounded), and
 * sorts the union. A region that refuses (an opt-in region not enabled) is
 * named on stderr and skipped. `--follow` polls until Ctrl-C.
 *
 * Locally (`--stage local`, or no `--stage`) it reads the local CDN's own log
 * file in the data dir, which `serve` appends to.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { CloudWatchLogsClient, type FilteredLogEvent, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { describeAwsError } from './aws-error.js';
import { CliError } from './common.js';
import { localLogFiles } from './local-log-file.js';
import { findLogGroups } from './log-groups.js';
import {
  checkFunction,
  checkStage,
  DEFAULT_NAME_PREFIX,
  logGroupsOf,
  parseSince,
  type StageFunction,
} from './stage-resources.js';

export interface LogsOptions {
  stage?: string;
  function: string;
  since: string;
  follow?: boolean;
  filter?: string;
  json?: boolean;
  dataDir: string;
  /** The stack's `namePrefix` parameter (names the CloudFront Function). */
  namePrefix?: string;
}

export interface LogsDeps {
  /** The client of one region (tests point it at a loopback fake). @default the SDK's, credentials its usual way */
  clientFor?: (region: string) => CloudWatchLogsClient;
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** Ends `--follow`. @default SIGINT/SIGTERM */
  signal?: AbortSignal;
  /** @default 2 s */
  pollMs?: number;
}

/** Events read per log group per read: beyond it the oldest are dropped, with a note. */
export const MAX_EVENTS_PER_GROUP = 10_000;
/** `--follow` stops by itself after this long. */
export const FOLLOW_MAX_MS = 12 * 3_600_000;
/** Log groups are looked for again this often while following (a region starts serving). */
const REDISCOVER_MS = 60_000;

export interface LogEvent {
  timestamp: number;
  region: string;
  logGroup: string;
  logStream?: string;
  eventId?: string;
  requestId?: string;
  message: string;
}

interface LogGroup {
  region: string;
  name: string;
}

export async function logs(options: LogsOptions, deps: LogsDeps = {}): Promise<void> {
  const out = deps.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = deps.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const sinceMs = parseSince(options.since);
  const fn = checkFunction(options.function);
  const { signal, dispose } = stopSignal(deps.signal);
  try {
    const print = (event: LogEvent) => out(options.json ? JSON.stringify(describe(event)) : formatEvent(event));
    if (options.stage === undefined || options.stage === 'local') {
      await localLogs(options, sinceMs, print, signal, deps.pollMs ?? 2000);
      return;
    }
    const stage = checkStage(options.stage);
    const clientFor = deps.clientFor ?? ((region: string) => new CloudWatchLogsClient({ region }));
    const clients = new Map<string, CloudWatchLogsClient>();
    const client = (region: string) => {
      let made = clients.get(region);
      if (!made) {
        made = clientFor(region);
        clients.set(region, made);
      }
      return made;
    };
    const discover = () => discoverGroups(stage, fn, options.namePrefix ?? DEFAULT_NAME_PREFIX, client, err);
    let groups = await discover();
    if (groups.length === 0) {
      err(`edge-resizer: no log groups of ${fn} for stage ${stage} yet (a function logs only once it has run)`);
    }
    const now = Date.now();
    const first = await readAll(
      groups,
      client,
      { startTime: now - sinceMs, endTime: now, filter: options.filter },
      err,
    );
    first.forEach(print);
    if (!options.follow) return;

    // Poll from the newest timestamp seen; events at that very millisecond are told apart by id.
    let from = Math.max(now - sinceMs, ...first.map((e) => e.timestamp));
    let seen = new Set(first.filter((e) => e.timestamp === from).map((e) => e.eventId));
    let discoveredAt = Date.now();
    const deadline = Date.now() + FOLLOW_MAX_MS;
    while (!signal.aborted && Date.now() < deadline) {
      await sleep(deps.pollMs ?? 2000, signal);
      if (signal.aborted) break;
      if (Date.now() - discoveredAt > REDISCOVER_MS) {
        groups = await discover();
        discoveredAt = Date.now();
      }
      const fresh = (
        await readAll(groups, client, { startTime: from, endTime: Date.now(), filter: options.filter }, err)
      ).filter((e) => !(e.timestamp === from && seen.has(e.eventId)));
      fresh.forEach(print);
      if (fresh.length > 0) {
        const newest = Math.max(...fresh.map((e) => e.timestamp));
        const atNewest = fresh.filter((e) => e.timestamp === newest).map((e) => e.eventId);
        seen = newest === from ? new Set([...seen, ...atNewest]) : new Set(atNewest);
        from = newest;
      }
    }
  } finally {
    dispose();
  }
}

/** The function's log groups in every region where it has one; a region that refuses is named and skipped. */
async function discoverGroups(
  stage: string,
  fn: StageFunction,
  namePrefix: string,
  client: (region: string) => CloudWatchLogsClient,
  err: (line: string) => void,
): Promise<LogGroup[]> {
  const query = logGroupsOf(stage, fn, namePrefix);
  const failures: string[] = [];
  const found = await Promise.all(
    query.regions.map(async (region) => {
      try {
        const groups = await findLogGroups(client(region), query.names);
        return groups.map((group): LogGroup => ({ region, name: group.logGroupName as string }));
      } catch (error) {
        failures.push(region);
        err(`edge-resizer: ${region}: ${describeAwsError(error)} (skipped)`);
        return [];
      }
    }),
  );
  if (failures.length === query.regions.length) {
    throw new CliError(`Could not read CloudWatch Logs in any region (${failures.join(', ')})`);
  }
  return found.flat();
}

async function readAll(
  groups: LogGroup[],
  client: (region: string) => CloudWatchLogsClient,
  window: { startTime: number; endTime: number; filter?: string },
  err: (line: string) => void,
): Promise<LogEvent[]> {
  const read = await Promise.all(
    groups.map(async (group) => {
      const events: LogEvent[] = [];
      try {
        let nextToken: string | undefined;
        do {
          const answer = await client(group.region).send(
            new FilterLogEventsCommand({
              logGroupName: group.name,
              startTime: window.startTime,
              endTime: window.endTime,
              filterPattern: window.filter,
              nextToken,
            }),
          );
          for (const raw of answer.events ?? []) events.push(toLogEvent(group, raw));
          nextToken = answer.nextToken;
        } while (nextToken && events.length < MAX_EVENTS_PER_GROUP);
        if (nextToken) {
          err(
            `edge-resizer: ${group.region} ${group.name}: more than ${MAX_EVENTS_PER_GROUP} events; narrow --since or --filter`,
          );
        }
      } catch (error) {
        err(`edge-resizer: ${group.region} ${group.name}: ${describeAwsError(error)} (skipped)`);
      }
      return events;
    }),
  );
  return read.flat().sort(byTime);
}

function byTime(a: LogEvent, b: LogEvent): number {
  return (
    a.timestamp - b.timestamp || a.region.localeCompare(b.region) || (a.eventId ?? '').localeCompare(b.eventId ?? '')
  );
}

function toLogEvent(group: LogGroup, raw: FilteredLogEvent): LogEvent {
  const message = (raw.message ?? '').replace(/\n$/, '');
  return {
    timestamp: raw.timestamp ?? 0,
    region: group.region,
    logGroup: group.name,
    logStream: raw.logStreamName,
    eventId: raw.eventId,
    ...splitLambdaLine(message),
  };
}

const REQUEST_ID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/**
 * Lambda's text log format: `<time>\t<request id>\t<LEVEL>\t<message>` for what the
 * function printed, `START|END|REPORT RequestId: <id> …` for the runtime's own lines.
 */
export function splitLambdaLine(line: string): { requestId?: string; message: string } {
  const printed = new RegExp(`^\\S+\\t(${REQUEST_ID})\\t[A-Z]+\\t([\\s\\S]*)$`).exec(line);
  if (printed) return { requestId: printed[1], message: printed[2] ?? '' };
  const runtime = new RegExp(`^(?:START|END|REPORT) RequestId: (${REQUEST_ID})`).exec(line);
  if (runtime) return { requestId: runtime[1], message: line.trim() };
  // The JSON log format, or a CloudFront Function's line.
  try {
    const json = JSON.parse(line) as { requestId?: unknown };
    if (typeof json.requestId === 'string') return { requestId: json.requestId, message: line };
  } catch {
    // plain text
  }
  return { message: line };
}

export function formatEvent(event: LogEvent): string {
  const time = new Date(event.timestamp).toISOString();
  return `${time} ${event.region} ${event.requestId ?? '-'} ${event.message.replace(/\s*\n\s*/g, ' ')}`;
}

function describe(event: LogEvent): Record<string, unknown> {
  return {
    time: new Date(event.timestamp).toISOString(),
    region: event.region,
    logGroup: event.logGroup,
    logStream: event.logStream,
    requestId: event.requestId,
    message: event.message,
  };
}

/** The local CDN's log file: lines since `sinceMs` ago, `--filter` as a plain substring; `--follow` tails it. */
async function localLogs(
  options: LogsOptions,
  sinceMs: number,
  print: (event: LogEvent) => void,
  signal: AbortSignal,
  pollMs: number,
): Promise<void> {
  const [older, current] = localLogFiles(options.dataDir);
  const from = Date.now() - sinceMs;
  const emit = (line: string) => {
    if (line.trim() === '') return;
    if (options.filter && !line.includes(options.filter)) return;
    let timestamp = Number.NaN;
    try {
      const json = JSON.parse(line) as { time?: unknown; _aws?: { Timestamp?: unknown } };
      timestamp = typeof json.time === 'string' ? Date.parse(json.time) : Number(json._aws?.Timestamp);
    } catch {
      // not one of ours: shown with the time it was read
    }
    if (!Number.isFinite(timestamp)) timestamp = Date.now();
    if (timestamp < from) return;
    print({ timestamp, region: 'local', logGroup: current ?? '', message: line, ...requestIdOf(line) });
  };
  for (const file of [older, current]) if (file) await readLines(file, 0, emit);
  if (!options.follow || !current) return;
  let offset = (await stat(current).catch(() => undefined))?.size ?? 0;
  const deadline = Date.now() + FOLLOW_MAX_MS;
  while (!signal.aborted && Date.now() < deadline) {
    await sleep(pollMs, signal);
    const size = (await stat(current).catch(() => undefined))?.size ?? 0;
    if (size < offset) offset = 0; // rotated: the new file is read from its start
    if (size > offset) offset = await readLines(current, offset, emit);
  }
}

function requestIdOf(line: string): { requestId?: string } {
  const match = /"requestId":"([^"]{1,64})"/.exec(line);
  return match?.[1] ? { requestId: match[1] } : {};
}

/** Reads whole lines from `offset`; returns the offset after the last whole line. */
async function readLines(file: string, offset: number, emit: (line: string) => void): Promise<number> {
  const exists = await stat(file).catch(() => undefined);
  if (!exists) return offset;
  let consumed = offset;
  const stream = createReadStream(file, { start: offset, end: exists.size - 1 });
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let pending: string | undefined;
  for await (const line of lines) {
    if (pending !== undefined) emit(pending);
    pending = line;
  }
  // The last line counts only when the file ends with its newline (a writer may be mid-line).
  if (pending !== undefined) {
    const endsWithNewline = exists.size > 0 && (await lastByte(file, exists.size)) === 0x0a;
    if (endsWithNewline) {
      emit(pending);
      consumed = exists.size;
    } else {
      consumed = exists.size - Buffer.byteLength(pending);
    }
  } else {
    consumed = exists.size;
  }
  return consumed;
}

async function lastByte(file: string, size: number): Promise<number | undefined> {
  for await (const chunk of createReadStream(file, { start: size - 1, end: size - 1 })) return (chunk as Buffer)[0];
  return undefined;
}

/** Aborts on SIGINT/SIGTERM (or the given signal), so `--follow` ends with exit 0. */
function stopSignal(given: AbortSignal | undefined): { signal: AbortSignal; dispose: () => void } {
  if (given) return { signal: given, dispose: () => {} };
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
