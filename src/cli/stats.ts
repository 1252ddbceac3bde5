/**
 * `edge-resizer stats --stage <s> [--since 1h] [--distribution-id ID] [--json]`:
 * what the stage did over the window: viewer requests and CloudFront hits,
 * misses, bytes against the originals, the format mix, errors by code.
 *
 * Deployed, from CloudWatch `GetMetricData`: the functions' embedded metrics
 * (src/core/metrics.ts) in every edge region, summed (a replica's metrics land
 * where it ran), and CloudFront's distribution metrics in us-east-1 (with
 * `--distribution-id`, the stack output `DistributionId`). A CloudFront hit is
 * a viewer request that reached neither the origin-response function nor the
 * API, so the figure includes the few answered by the viewer function itself
 * (a bad signature, say). Locally, the same sums from the local CDN's log file
 * (its metrics lines and request lines).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { ErrorCode } from '../core/errors.js';
import { METRICS_NAMESPACE, type MetricName, SERVED_FORMATS } from '../core/metrics.js';
import { describeAwsError } from './aws-error.js';
import { CliError, EXIT, env } from './common.js';
import { EDGE_REGIONS } from './edge-regions.js';
import { localLogFiles } from './local-log-file.js';
import { checkStage, HOME_REGION, parseSince } from './stage-resources.js';

export interface StatsOptions {
  stage?: string;
  since: string;
  distributionId?: string;
  json?: boolean;
  dataDir: string;
}

export interface StatsDeps {
  clientFor?: (region: string) => CloudWatchClient;
  out?: (line: string) => void;
  err?: (line: string) => void;
  now?: () => number;
}

/** What `stats` reports. Counts are sums over the window; absent figures are null (not measured). */
export interface StageStats {
  stage: string;
  since: string;
  from: string;
  to: string;
  /** Viewer requests (CloudFront `Requests`; locally the local CDN's image requests). */
  requests: number | null;
  /** Viewer requests answered from the CDN cache, reaching no function. */
  hits: number | null;
  /** Derivatives rendered from their original. */
  misses: number;
  /** Origin fetches answered by a derivative already stored. */
  storedHits: number;
  /** Misses too large to generate, answered 302. */
  redirects: number;
  /** Bytes of the derivatives the misses made, and of the originals they were made from. */
  outputBytes: number;
  originalBytes: number;
  /** `originalBytes - outputBytes`: what the misses' derivatives weigh less than their originals. */
  bytesSaved: number;
  /** Bytes CloudFront sent to viewers. */
  bytesDownloaded: number | null;
  /** Misses by the format served. */
  formats: Record<string, number>;
  /** Error answers by code, the functions' and the API's together. */
  errors: Record<string, number>;
  /** CloudFront's 5xx rate over the window, in %. */
  serverErrorRatePercent: number | null;
  /** Misses by edge region (deployed only). */
  missesByRegion: Record<string, number>;
}

export async function stats(options: StatsOptions, deps: StatsDeps = {}): Promise<void> {
  const out = deps.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = deps.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const sinceMs = parseSince(options.since);
  const now = (deps.now ?? Date.now)();
  const result =
    options.stage === undefined || options.stage === 'local'
      ? await localStats(options.dataDir, options.since, now - sinceMs, now)
      : await deployedStats(checkStage(options.stage), options, now - sinceMs, now, deps, err);
  if (options.json) out(JSON.stringify(result));
  else for (const line of formatStats(result)) out(line);
}

function emptyStats(stage: string, since: string, from: number, to: number): StageStats {
  return {
    stage,
    since,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    requests: null,
    hits: null,
    misses: 0,
    storedHits: 0,
    redirects: 0,
    outputBytes: 0,
    originalBytes: 0,
    bytesSaved: 0,
    bytesDownloaded: null,
    formats: {},
    errors: {},
    serverErrorRatePercent: null,
    missesByRegion: {},
  };
}

const SUMMED: MetricName[] = ['Requests', 'Misses', 'StoredHits', 'Redirects', 'OutputBytes', 'OriginalBytes'];
const ERROR_CODES = Object.keys(ErrorCode);
/** GetMetricData takes at most 500 queries a call. */
const MAX_QUERIES = 500;
/** A GetMetricData answer is paged; this many pages is far past what the queries can return. */
const MAX_PAGES = 50;

interface Query {
  id: string;
  region: string;
  metric: string;
  namespace: string;
  dimensions: Record<string, string>;
  stat: 'Sum' | 'Average';
}

async function deployedStats(
  stage: string,
  options: StatsOptions,
  from: number,
  to: number,
  deps: StatsDeps,
  err: (line: string) => void,
): Promise<StageStats> {
  const result = emptyStats(stage, options.since, from, to);
  const distributionId = options.distributionId ?? env('DISTRIBUTION_ID');
  if (distributionId !== undefined && !/^[A-Z0-9]{1,32}$/.test(distributionId)) {
    throw new CliError(
      `--distribution-id takes the stack output DistributionId (E2ABC…), not '${distributionId}'`,
      EXIT.usage,
    );
  }
  const queries: Query[] = [];
  const add = (q: Omit<Query, 'id'>) => queries.push({ ...q, id: `q${queries.length}` });
  for (const region of EDGE_REGIONS) {
    const dims = { Stage: stage, Function: 'originResponse' };
    for (const metric of SUMMED) add({ region, namespace: METRICS_NAMESPACE, metric, dimensions: dims, stat: 'Sum' });
    for (const Format of SERVED_FORMATS)
      add({ region, namespace: METRICS_NAMESPACE, metric: 'Served', dimensions: { ...dims, Format }, stat: 'Sum' });
    for (const ErrorCode of ERROR_CODES)
      add({ region, namespace: METRICS_NAMESPACE, metric: 'Errors', dimensions: { ...dims, ErrorCode }, stat: 'Sum' });
  }
  const api = { Stage: stage, Function: 'api' };
  add({ region: HOME_REGION, namespace: METRICS_NAMESPACE, metric: 'Requests', dimensions: api, stat: 'Sum' });
  for (const ErrorCode of ERROR_CODES)
    add({
      region: HOME_REGION,
      namespace: METRICS_NAMESPACE,
      metric: 'Errors',
      dimensions: { ...api, ErrorCode },
      stat: 'Sum',
    });
  if (distributionId) {
    const cf = { DistributionId: distributionId, Region: 'Global' };
    for (const metric of ['Requests', 'BytesDownloaded'])
      add({ region: HOME_REGION, namespace: 'AWS/CloudFront', metric, dimensions: cf, stat: 'Sum' });
    add({ region: HOME_REGION, namespace: 'AWS/CloudFront', metric: '5xxErrorRate', dimensions: cf, stat: 'Average' });
  } else {
    err(
      'edge-resizer: no --distribution-id (or DISTRIBUTION_ID): viewer requests, hits and bytes downloaded not measured',
    );
  }

  const clientFor = deps.clientFor ?? ((region: string) => new CloudWatchClient({ region }));
  const values = new Map<string, number[]>();
  const byRegion = new Map<string, Query[]>();
  for (const q of queries) byRegion.set(q.region, [...(byRegion.get(q.region) ?? []), q]);
  const failed: string[] = [];
  await Promise.all(
    [...byRegion].map(async ([region, regionQueries]) => {
      try {
        const client = clientFor(region);
        for (let i = 0; i < regionQueries.length; i += MAX_QUERIES) {
          const batch = regionQueries.slice(i, i + MAX_QUERIES);
          await fetchBatch(client, batch, from, to, values);
        }
      } catch (error) {
        failed.push(region);
        err(`edge-resizer: ${region}: ${describeAwsError(error)} (skipped)`);
      }
    }),
  );
  if (failed.length === byRegion.size) throw new CliError('Could not read CloudWatch metrics in any region');

  const sum = (q: Query) => (values.get(q.id) ?? []).reduce((a, b) => a + b, 0);
  let originRequests = 0;
  let apiRequests = 0;
  let rateSum = 0;
  let rateCount = 0;
  for (const q of queries) {
    const total = sum(q);
    if (q.namespace === 'AWS/CloudFront') {
      if (q.metric === 'Requests') result.requests = total;
      if (q.metric === 'BytesDownloaded') result.bytesDownloaded = total;
      if (q.metric === '5xxErrorRate') {
        const points = values.get(q.id) ?? [];
        rateSum += points.reduce((a, b) => a + b, 0);
        rateCount += points.length;
      }
      continue;
    }
    const isApi = q.dimensions.Function === 'api';
    if (q.metric === 'Errors') {
      if (total > 0)
        result.errors[q.dimensions.ErrorCode ?? '?'] = (result.errors[q.dimensions.ErrorCode ?? '?'] ?? 0) + total;
    } else if (q.metric === 'Served') {
      if (total > 0)
        result.formats[q.dimensions.Format ?? '?'] = (result.formats[q.dimensions.Format ?? '?'] ?? 0) + total;
    } else if (q.metric === 'Requests') {
      if (isApi) apiRequests += total;
      else originRequests += total;
    } else if (q.metric === 'Misses') {
      result.misses += total;
      if (total > 0) result.missesByRegion[q.region] = total;
    } else if (q.metric === 'StoredHits') result.storedHits += total;
    else if (q.metric === 'Redirects') result.redirects += total;
    else if (q.metric === 'OutputBytes') result.outputBytes += total;
    else if (q.metric === 'OriginalBytes') result.originalBytes += total;
  }
  result.bytesSaved = result.originalBytes - result.outputBytes;
  if (result.requests !== null) result.hits = Math.max(0, result.requests - originRequests - apiRequests);
  if (distributionId) result.serverErrorRatePercent = rateCount > 0 ? round(rateSum / rateCount) : 0;
  return result;
}

async function fetchBatch(
  client: CloudWatchClient,
  batch: Query[],
  from: number,
  to: number,
  values: Map<string, number[]>,
): Promise<void> {
  // One period over the whole window (rounded up to CloudWatch's minute); its alignment may split it in two.
  const period = Math.max(60, Math.ceil((to - from) / 60_000) * 60);
  const MetricDataQueries: MetricDataQuery[] = batch.map((q) => ({
    Id: q.id,
    ReturnData: true,
    MetricStat: {
      Metric: {
        Namespace: q.namespace,
        MetricName: q.metric,
        Dimensions: Object.entries(q.dimensions).map(([Name, Value]) => ({ Name, Value })),
      },
      Period: period,
      Stat: q.stat,
    },
  }));
  let NextToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const answer = await client.send(
      new GetMetricDataCommand({ MetricDataQueries, StartTime: new Date(from), EndTime: new Date(to), NextToken }),
    );
    for (const r of answer.MetricDataResults ?? []) {
      if (!r.Id) continue;
      values.set(r.Id, [...(values.get(r.Id) ?? []), ...(r.Values ?? [])]);
    }
    NextToken = answer.NextToken;
    if (!NextToken) return;
  }
}

/** The same sums from the local CDN's log file: its metrics lines and its request lines. */
async function localStats(dataDir: string, since: string, from: number, to: number): Promise<StageStats> {
  const result = emptyStats('local', since, from, to);
  result.requests = 0;
  result.hits = 0;
  for (const file of localLogFiles(dataDir)) {
    if (!(await stat(file).catch(() => undefined))) continue;
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      const aws = entry._aws as { Timestamp?: unknown } | undefined;
      const time = aws ? Number(aws.Timestamp) : Date.parse(String(entry.time));
      if (!(time >= from && time <= to)) continue;
      if (aws) addMetricsLine(result, entry);
      else if (entry.message === 'request' && typeof entry.cache === 'string') {
        // Image requests: the ones the edge cache answered or passed on.
        result.requests += 1;
        if (entry.cache === 'hit') result.hits += 1;
      }
    }
  }
  result.bytesSaved = result.originalBytes - result.outputBytes;
  return result;
}

function addMetricsLine(result: StageStats, entry: Record<string, unknown>): void {
  const n = (name: string) => (typeof entry[name] === 'number' ? (entry[name] as number) : 0);
  result.misses += n('Misses');
  result.storedHits += n('StoredHits');
  result.redirects += n('Redirects');
  result.outputBytes += n('OutputBytes');
  result.originalBytes += n('OriginalBytes');
  if (n('Served') > 0 && typeof entry.Format === 'string')
    result.formats[entry.Format] = (result.formats[entry.Format] ?? 0) + n('Served');
  if (n('Errors') > 0 && typeof entry.ErrorCode === 'string')
    result.errors[entry.ErrorCode] = (result.errors[entry.ErrorCode] ?? 0) + n('Errors');
}

export function formatStats(s: StageStats): string[] {
  const count = (v: number | null) => (v === null ? 'not measured' : String(v));
  const bytes = (v: number | null) => (v === null ? 'not measured' : humanBytes(v));
  const mix = (record: Record<string, number>) =>
    Object.entries(record)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  const saved = s.originalBytes > 0 ? ` (${round((100 * s.bytesSaved) / s.originalBytes)}% less)` : '';
  return [
    `stage ${s.stage}, ${s.from} to ${s.to} (${s.since})`,
    `  requests        ${count(s.requests)}`,
    `  cache hits      ${count(s.hits)}`,
    `  misses          ${s.misses} (stored derivatives served: ${s.storedHits}, 302s: ${s.redirects})`,
    `  bytes           derivatives ${humanBytes(s.outputBytes)} from originals ${humanBytes(s.originalBytes)}${saved}`,
    `  downloaded      ${bytes(s.bytesDownloaded)}`,
    `  formats         ${mix(s.formats)}`,
    `  errors          ${mix(s.errors)}`,
    ...(s.serverErrorRatePercent === null ? [] : [`  5xx rate        ${s.serverErrorRatePercent}%`]),
    ...(Object.keys(s.missesByRegion).length > 0 ? [`  misses by region ${mix(s.missesByRegion)}`] : []),
  ];
}

function humanBytes(n: number): string {
  if (Math.abs(n) < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
