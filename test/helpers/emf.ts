/**
 * Checks a log line against CloudWatch's embedded metric format, as
 * "Specification: Embedded metric format" (Amazon CloudWatch User Guide)
 * writes it: a JSON object whose `_aws` has a numeric `Timestamp` and a
 * `CloudWatchMetrics` array of directives; each directive a `Namespace`, a
 * `Dimensions` array of dimension sets (at most 30 names each, every name a
 * string member of the root) and a `Metrics` array of at most 100 definitions
 * (a `Name` whose root member is a number or an array of at most 100 numbers,
 * a `Unit` from CloudWatch's list). Returns the problems; none means valid.
 */
import { EMF_UNITS } from '../../src/core/metrics.js';

export function emfProblems(line: string): string[] {
  const problems: string[] = [];
  let root: Record<string, unknown>;
  try {
    root = JSON.parse(line);
  } catch {
    return ['not JSON'];
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) return ['not a JSON object'];
  const aws = root._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
  if (typeof aws !== 'object' || aws === null) return ['no _aws object'];
  if (typeof aws.Timestamp !== 'number' || !Number.isInteger(aws.Timestamp))
    problems.push('_aws.Timestamp is not an integer (ms)');
  if (!Array.isArray(aws.CloudWatchMetrics)) return [...problems, '_aws.CloudWatchMetrics is not an array'];
  for (const [i, directive] of (aws.CloudWatchMetrics as Record<string, unknown>[]).entries()) {
    const at = `directive ${i}`;
    const namespace = directive.Namespace;
    if (typeof namespace !== 'string' || namespace.length < 1 || namespace.length > 255)
      problems.push(`${at}: Namespace`);
    if (!Array.isArray(directive.Dimensions)) problems.push(`${at}: Dimensions is not an array`);
    for (const set of (directive.Dimensions as unknown[]) ?? []) {
      if (!Array.isArray(set)) {
        problems.push(`${at}: a dimension set is not an array`);
        continue;
      }
      if (set.length > 30) problems.push(`${at}: a dimension set has ${set.length} > 30 dimensions`);
      for (const name of set) {
        const value = root[name as string];
        if (typeof value !== 'string' || value.length < 1 || value.length > 1024)
          problems.push(`${at}: dimension ${String(name)} is not a string member of the root`);
      }
    }
    const metrics = directive.Metrics;
    if (!Array.isArray(metrics) || metrics.length === 0) {
      problems.push(`${at}: Metrics is not a non-empty array`);
      continue;
    }
    if (metrics.length > 100) problems.push(`${at}: ${metrics.length} > 100 metrics`);
    for (const metric of metrics as { Name?: unknown; Unit?: unknown }[]) {
      const name = metric.Name;
      if (typeof name !== 'string' || name.length < 1 || name.length > 1024) {
        problems.push(`${at}: a metric without a Name`);
        continue;
      }
      const value = root[name];
      const numeric = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
      if (!(numeric(value) || (Array.isArray(value) && value.length <= 100 && value.every(numeric))))
        problems.push(`${at}: metric ${name} has no numeric member on the root`);
      if (metric.Unit !== undefined && !(EMF_UNITS as readonly unknown[]).includes(metric.Unit))
        problems.push(`${at}: metric ${name} has unit ${String(metric.Unit)}`);
    }
  }
  return problems;
}

/** The metric members of a valid EMF line: name → value. */
export function emfMetrics(line: string): Record<string, unknown> {
  const root = JSON.parse(line);
  const names = root._aws.CloudWatchMetrics.flatMap((d: { Metrics: { Name: string }[] }) =>
    d.Metrics.map((m) => m.Name),
  );
  return Object.fromEntries(names.map((name: string) => [name, root[name]]));
}
