/**
 * Metrics as CloudWatch embedded metric format (EMF) log lines: a function
 * writes one JSON line per request to its log, and CloudWatch Logs extracts the
 * metrics from it in whichever region the line landed. No client, no network
 * call, no dependency: Lambda@Edge has no environment to configure one with,
 * and a line costs a `console.log`.
 *
 * A line carries one directive per group of metrics that share dimensions, and
 * lists only the metrics this request produced (a miss has `Misses`, a stored
 * derivative served has `StoredHits`), so an absent metric is "none", not 0.
 * Every metric is named in exactly one directive. Format ("Specification:
 * Embedded metric format", Amazon CloudWatch User Guide): `_aws.Timestamp` in
 * ms, up to 100 metrics per directive, up to 30 dimensions, each referenced
 * member present on the root.
 */

export const METRICS_NAMESPACE = 'edge-resizer';

/** The units EMF accepts (the CloudWatch `StandardUnit` list). */
export const EMF_UNITS = [
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
] as const;
export type EmfUnit = (typeof EMF_UNITS)[number];

/** Which function a line comes from: the `Function` dimension. */
export type MetricsFunction = 'originResponse' | 'api';

/**
 * Every metric, its unit and the dimensions it is published under (besides
 * `Stage` and `Function`, which all carry). The one source for the emitter,
 * the dashboard (resources/monitoring.yml) and `edge-resizer stats`.
 */
export const METRICS = {
  /** Requests the function answered. */
  Requests: { unit: 'Count', by: [] },
  /** Wall time of the request in the function. */
  Duration: { unit: 'Milliseconds', by: [] },
  /** Origin-response: a stored derivative was current and served from the bucket. */
  StoredHits: { unit: 'Count', by: [] },
  /** Origin-response: a derivative rendered from its original. */
  Misses: { unit: 'Count', by: [] },
  /** A miss's time reading and decrypting the original. */
  FetchTime: { unit: 'Milliseconds', by: [] },
  TransformTime: { unit: 'Milliseconds', by: [] },
  StoreTime: { unit: 'Milliseconds', by: [] },
  /** A miss's encoded derivative. */
  OutputBytes: { unit: 'Bytes', by: [] },
  /** A miss's original (its stored length less the envelope's tag). */
  OriginalBytes: { unit: 'Bytes', by: [] },
  /** A miss by the format it served (`webp`, `avif`, `jpeg`, `png`, `gif`). */
  Served: { unit: 'Count', by: ['Format'] },
  /** A derivative too large to generate: stored and answered 302. */
  Redirects: { unit: 'Count', by: [] },
  /** A 503 `busy` (time budget, queue, key lock): also counted in `Errors`. */
  Busy: { unit: 'Count', by: [] },
  /** An error answer, by its code (`not_found`, `corrupt_image`, `storage_error`…). */
  Errors: { unit: 'Count', by: ['ErrorCode'] },
} as const satisfies Record<string, { unit: EmfUnit; by: readonly string[] }>;
export type MetricName = keyof typeof METRICS;

/** The values the `Format` dimension takes (what `formatOf` gives for the encoders' content types). */
export const SERVED_FORMATS = ['webp', 'avif', 'jpeg', 'png', 'gif'] as const;

/** One request's outcome: the metrics it produced and the values of the extra dimensions. */
export interface MetricsRecord {
  stage: string;
  function: MetricsFunction;
  metrics: Partial<Record<MetricName, number>>;
  /** Values of `Format` / `ErrorCode` when `Served` / `Errors` are present. */
  dimensions?: { Format?: string; ErrorCode?: string };
  /** ms since the epoch. @default now */
  timestamp?: number;
}

/** The EMF document of one record. Metrics whose extra dimension has no value are left out. */
export function toEmf(record: MetricsRecord): Record<string, unknown> {
  const root: Record<string, unknown> = { Stage: record.stage, Function: record.function };
  const groups = new Map<string, { dimensions: string[]; metrics: { Name: string; Unit: EmfUnit }[] }>();
  for (const [name, value] of Object.entries(record.metrics) as [MetricName, number | undefined][]) {
    if (value === undefined || !Number.isFinite(value)) continue;
    const { unit, by } = METRICS[name];
    const extra: string[] = [...by];
    const values = extra.map((dimension) => record.dimensions?.[dimension as 'Format' | 'ErrorCode']);
    if (values.some((v) => v === undefined || v === '')) continue;
    extra.forEach((dimension, i) => {
      root[dimension] = values[i];
    });
    root[name] = value;
    const id = extra.join(',');
    const group = groups.get(id) ?? { dimensions: ['Stage', 'Function', ...extra], metrics: [] };
    group.metrics.push({ Name: name, Unit: unit });
    groups.set(id, group);
  }
  root._aws = {
    Timestamp: record.timestamp ?? Date.now(),
    CloudWatchMetrics: [...groups.values()].map((group) => ({
      Namespace: METRICS_NAMESPACE,
      Dimensions: [group.dimensions],
      Metrics: group.metrics,
    })),
  };
  return root;
}

export type MetricsSink = (line: string) => void;

/**
 * Writes one EMF line per record: `console.log` at the edge, where the runtime
 * sends it to CloudWatch Logs. In Lambda's text log format (what the stack
 * uses) the runtime prefixes time, request id and level, and CloudWatch still
 * extracts the metrics from the JSON after it ("Logging and monitoring Node.js
 * Lambda functions", Lambda Developer Guide); a function switched to the JSON
 * log format would wrap the line as a string and must pass a sink writing to
 * `process.stdout` instead.
 */
export function createMetricsEmitter(sink: MetricsSink = (line) => console.log(line)): (record: MetricsRecord) => void {
  return (record) => {
    // A metric must never break the request it describes.
    try {
      sink(JSON.stringify(toEmf(record)));
    } catch {
      // nothing to do: the answer matters more than its count
    }
  };
}

/** The format a `Content-Type` names (`image/webp` → `webp`), for the `Format` dimension. */
export function formatOf(contentType: string | undefined): string | undefined {
  const match = /^image\/([a-z0-9.+-]+)/i.exec(contentType ?? '');
  return match?.[1]?.toLowerCase();
}

/** `Server-Timing: fetch;dur=12.3, transform;dur=40` → `{ fetch: 12.3, transform: 40 }`. */
export function parseServerTiming(header: string | undefined): Record<string, number> {
  const timings: Record<string, number> = {};
  for (const part of (header ?? '').split(',')) {
    const match = /^\s*([A-Za-z0-9_-]+)\s*;.*?dur=([0-9.]+)/.exec(part);
    if (match?.[1] && match[2]) timings[match[1]] = Number(match[2]);
  }
  return timings;
}

/** What an origin-response request did, as the handler sees it. */
export interface OriginResponseOutcome {
  kind: 'stored' | 'miss' | 'redirect' | 'error';
  durationMs: number;
  contentType?: string;
  timings?: Record<string, number>;
  outputBytes?: number;
  originalBytes?: number;
  errorCode?: string;
}

export function originResponseRecord(stage: string, outcome: OriginResponseOutcome): MetricsRecord {
  const rendered = outcome.kind === 'miss' || outcome.kind === 'redirect';
  const metrics: MetricsRecord['metrics'] = { Requests: 1, Duration: round(outcome.durationMs) };
  if (outcome.kind === 'stored') metrics.StoredHits = 1;
  if (rendered) {
    metrics.Misses = 1;
    metrics.FetchTime = round(outcome.timings?.fetch);
    metrics.TransformTime = round(outcome.timings?.transform);
    metrics.StoreTime = round(outcome.timings?.store);
    metrics.OutputBytes = outcome.outputBytes;
    metrics.OriginalBytes = outcome.originalBytes;
    metrics.Served = 1;
  }
  if (outcome.kind === 'redirect') metrics.Redirects = 1;
  if (outcome.kind === 'error') {
    metrics.Errors = 1;
    if (outcome.errorCode === 'busy') metrics.Busy = 1;
  }
  return {
    stage,
    function: 'originResponse',
    metrics,
    dimensions: { Format: formatOf(outcome.contentType), ErrorCode: outcome.errorCode },
  };
}

/** One API request: its duration, and its error code when it failed. */
export function apiRecord(stage: string, outcome: { durationMs: number; errorCode?: string }): MetricsRecord {
  const metrics: MetricsRecord['metrics'] = { Requests: 1, Duration: round(outcome.durationMs) };
  if (outcome.errorCode) {
    metrics.Errors = 1;
    if (outcome.errorCode === 'busy') metrics.Busy = 1;
  }
  return { stage, function: 'api', metrics, dimensions: { ErrorCode: outcome.errorCode } };
}

function round(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : Math.round(ms * 10) / 10;
}
