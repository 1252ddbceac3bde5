/**
 * A loopback stand-in for CloudWatch's GetMetricData, per region. The
 * installed client (@aws-sdk/client-cloudwatch 3.1178) speaks awsJson1_0
 * (`X-Amz-Target: GraniteServiceVersion20100801.GetMetricData`, timestamps as
 * epoch seconds); the fake answers that, per region by the SigV4 credential
 * scope (./aws-json-server.ts), checks each query's shape (an `Id` of a lower-case letter
 * and word characters, a `Period` that is a multiple of 60, a known `Stat`),
 * and pages the results to exercise `NextToken`.
 */
import { AwsJsonError, startAwsJsonServer } from './aws-json-server.js';

export interface FakeMetricsCall {
  region: string;
  queries: number;
  startTime: number;
  endTime: number;
}

export interface FakeCloudWatch {
  endpoint: string;
  /** Sets the datapoints of one metric in one region: dimensions as a record, values summed by the client. */
  set(
    region: string,
    namespace: string,
    metric: string,
    dimensions: Record<string, string>,
    stat: string,
    values: number[],
  ): void;
  calls: FakeMetricsCall[];
  close(): Promise<void>;
}

interface GetMetricDataInput {
  MetricDataQueries: {
    Id: string;
    MetricStat: {
      Metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: string }[] };
      Period: number;
      Stat: string;
    };
  }[];
  StartTime: number;
  EndTime: number;
  NextToken?: string;
}

const keyOf = (namespace: string, metric: string, dimensions: Record<string, string>, stat: string) =>
  JSON.stringify([namespace, metric, Object.entries(dimensions).sort(([a], [b]) => a.localeCompare(b)), stat]);

export async function startFakeCloudWatch(options: { pageSize?: number } = {}): Promise<FakeCloudWatch> {
  const pageSize = options.pageSize ?? 7;
  const data = new Map<string, Map<string, number[]>>();
  const calls: FakeMetricsCall[] = [];
  const server = await startAwsJsonServer({
    service: 'monitoring',
    targetPrefix: 'GraniteServiceVersion20100801',
    protocol: 'awsJson1_0',
    handle: ({ region, operation, body }) => {
      if (operation !== 'GetMetricData') throw new AwsJsonError('InvalidAction', `not a GetMetricData: ${operation}`);
      return getMetricData(region, body as unknown as GetMetricDataInput);
    },
  });

  function getMetricData(region: string, input: GetMetricDataInput) {
    calls.push({ region, queries: input.MetricDataQueries.length, startTime: input.StartTime, endTime: input.EndTime });
    for (const q of input.MetricDataQueries) {
      const stat = q.MetricStat;
      if (!/^[a-z]\w*$/.test(q.Id) || stat.Period % 60 !== 0 || !['Sum', 'Average', 'Maximum'].includes(stat.Stat)) {
        throw new AwsJsonError('InvalidParameterValue', `bad query ${q.Id}`);
      }
    }
    if (input.MetricDataQueries.length > 500) throw new AwsJsonError('InvalidParameterValue', 'over 500 queries');
    const start = Number(input.NextToken ?? 0);
    const page = input.MetricDataQueries.slice(start, start + pageSize);
    const inRegion = data.get(region) ?? new Map<string, number[]>();
    return {
      MetricDataResults: page.map((q) => {
        const m = q.MetricStat.Metric;
        const dims = Object.fromEntries(m.Dimensions.map((d) => [d.Name, d.Value]));
        const values = inRegion.get(keyOf(m.Namespace, m.MetricName, dims, q.MetricStat.Stat)) ?? [];
        return {
          Id: q.Id,
          Label: m.MetricName,
          Timestamps: values.map((_, i) => input.StartTime + i * q.MetricStat.Period),
          Values: values,
          StatusCode: 'Complete',
        };
      }),
      Messages: [],
      ...(start + pageSize < input.MetricDataQueries.length ? { NextToken: String(start + pageSize) } : {}),
    };
  }
  return {
    endpoint: server.endpoint,
    calls,
    set(region, namespace, metric, dimensions, stat, values) {
      const inRegion = data.get(region) ?? new Map<string, number[]>();
      data.set(region, inRegion);
      inRegion.set(keyOf(namespace, metric, dimensions, stat), values);
    },
    close: server.close,
  };
}
