/**
 * A loopback stand-in for CloudWatch's GetMetricData, per region. The
 * installed client (@aws-sdk/client-cloudwatch 3.1178) speaks awsJson1_0
 * (`X-Amz-Target: GraniteServiceVersion20100801.GetMetricData`, timestamps as
 * epoch seconds); the fake answers that, takes the region from the SigV4
 * credential scope, checks each query's shape (an `Id` of a lower-case letter
 * and word characters, a `Period` that is a multiple of 60, a known `Stat`),
 * and pages the results to exercise `NextToken`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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

const keyOf = (namespace: string, metric: string, dimensions: Record<string, string>, stat: string) =>
  JSON.stringify([namespace, metric, Object.entries(dimensions).sort(([a], [b]) => a.localeCompare(b)), stat]);

export async function startFakeCloudWatch(options: { pageSize?: number } = {}): Promise<FakeCloudWatch> {
  const pageSize = options.pageSize ?? 7;
  const data = new Map<string, Map<string, number[]>>();
  const calls: FakeMetricsCall[] = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify(payload));
    };
    const scope = /Credential=[^/]+\/\d{8}\/([a-z0-9-]+)\/monitoring\/aws4_request/.exec(
      String(req.headers.authorization),
    );
    if (req.headers['x-amz-target'] !== 'GraniteServiceVersion20100801.GetMetricData' || !scope?.[1]) {
      return send(400, {
        __type: 'InvalidAction',
        message: `not a signed GetMetricData: ${req.headers['x-amz-target']}`,
      });
    }
    const region = scope[1];
    const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
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
    };
    calls.push({ region, queries: input.MetricDataQueries.length, startTime: input.StartTime, endTime: input.EndTime });
    for (const q of input.MetricDataQueries) {
      const stat = q.MetricStat;
      if (!/^[a-z]\w*$/.test(q.Id) || stat.Period % 60 !== 0 || !['Sum', 'Average', 'Maximum'].includes(stat.Stat)) {
        return send(400, { __type: 'InvalidParameterValue', message: `bad query ${q.Id}` });
      }
    }
    if (input.MetricDataQueries.length > 500)
      return send(400, { __type: 'InvalidParameterValue', message: 'over 500 queries' });
    const start = Number(input.NextToken ?? 0);
    const page = input.MetricDataQueries.slice(start, start + pageSize);
    const inRegion = data.get(region) ?? new Map<string, number[]>();
    send(200, {
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
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    set(region, namespace, metric, dimensions, stat, values) {
      const inRegion = data.get(region) ?? new Map<string, number[]>();
      data.set(region, inRegion);
      inRegion.set(keyOf(namespace, metric, dimensions, stat), values);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
