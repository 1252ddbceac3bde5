/**
 * A loopback stand-in for the CloudWatch Logs API, enough for `edge-resizer
 * logs`: DescribeLogGroups (by `logGroupNamePrefix`, paged) and
 * FilterLogEvents (`startTime`/`endTime`, a `filterPattern` taken as a plain
 * term, `limit`, paged with `nextToken`), per region. The real SDK client is
 * pointed at it with `endpoint` (or `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`); it
 * speaks the service's protocol, awsJson1_1 (`POST /`, `X-Amz-Target:
 * Logs_20140328.<Operation>`), and takes the region from the request's SigV4
 * credential scope, as the real regional endpoints are separate services.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeLogEvent {
  timestamp: number;
  message: string;
  logStreamName?: string;
}

export interface LogsCall {
  region: string;
  operation: string;
  input: Record<string, unknown>;
}

export interface FakeLogsApi {
  endpoint: string;
  /** Adds events to a group of a region (the group is created if missing). */
  put(region: string, logGroupName: string, events: FakeLogEvent[]): void;
  calls: LogsCall[];
  /** Answers every call of this region with this error (an opt-in region not enabled, say). */
  failRegion(region: string, code: string, message: string): void;
  close(): Promise<void>;
}

interface StoredEvent extends Required<FakeLogEvent> {
  eventId: string;
  ingestionTime: number;
}

export async function startFakeLogsApi(options: { pageSize?: number } = {}): Promise<FakeLogsApi> {
  const pageSize = options.pageSize ?? 3;
  const groups = new Map<string, Map<string, StoredEvent[]>>(); // region → group → events
  const failing = new Map<string, { code: string; message: string }>();
  const calls: LogsCall[] = [];
  let nextId = 1;

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(payload));
    };
    const target = String(req.headers['x-amz-target'] ?? '');
    const scope = /Credential=[^/]+\/\d{8}\/([a-z0-9-]+)\/logs\/aws4_request/.exec(String(req.headers.authorization));
    if (req.method !== 'POST' || !target.startsWith('Logs_20140328.') || !scope?.[1]) {
      return send(400, { __type: 'InvalidSignatureException', message: 'not a signed Logs request' });
    }
    const region = scope[1];
    const operation = target.slice('Logs_20140328.'.length);
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    } catch {
      return send(400, { __type: 'SerializationException', message: 'bad JSON' });
    }
    calls.push({ region, operation, input });
    const failure = failing.get(region);
    if (failure) return send(400, { __type: failure.code, message: failure.message });
    const inRegion = groups.get(region) ?? new Map<string, StoredEvent[]>();

    if (operation === 'DescribeLogGroups') {
      const prefix = String(input.logGroupNamePrefix ?? '');
      const names = [...inRegion.keys()].filter((name) => name.startsWith(prefix)).sort();
      const start = Number(input.nextToken ?? 0);
      const page = names.slice(start, start + pageSize);
      return send(200, {
        logGroups: page.map((logGroupName) => ({
          logGroupName,
          arn: `arn:aws:logs:${region}:123456789012:log-group:${logGroupName}:*`,
          creationTime: 1,
          storedBytes: 0,
        })),
        ...(start + pageSize < names.length ? { nextToken: String(start + pageSize) } : {}),
      });
    }
    if (operation === 'FilterLogEvents') {
      const name = String(input.logGroupName ?? '');
      const events = inRegion.get(name);
      if (!events)
        return send(400, { __type: 'ResourceNotFoundException', message: 'The specified log group does not exist.' });
      const startTime = typeof input.startTime === 'number' ? input.startTime : 0;
      const endTime = typeof input.endTime === 'number' ? input.endTime : Number.POSITIVE_INFINITY;
      const term = typeof input.filterPattern === 'string' ? input.filterPattern.replace(/^"|"$/g, '') : '';
      const matching = events
        .filter((e) => e.timestamp >= startTime && e.timestamp <= endTime && (term === '' || e.message.includes(term)))
        .sort((a, b) => a.timestamp - b.timestamp);
      const limit = Math.min(pageSize, typeof input.limit === 'number' ? input.limit : pageSize);
      const start = Number(input.nextToken ?? 0);
      const page = matching.slice(start, start + limit);
      return send(200, {
        events: page.map((e) => ({ ...e })),
        searchedLogStreams: [],
        ...(start + limit < matching.length ? { nextToken: String(start + limit) } : {}),
      });
    }
    return send(400, { __type: 'UnknownOperationException', message: operation });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    put(region, logGroupName, events) {
      const inRegion = groups.get(region) ?? new Map<string, StoredEvent[]>();
      groups.set(region, inRegion);
      const stored = inRegion.get(logGroupName) ?? [];
      inRegion.set(logGroupName, stored);
      for (const event of events) {
        stored.push({
          logStreamName: event.logStreamName ?? '2026/12/08/[1]0123456789abcdef',
          timestamp: event.timestamp,
          message: event.message,
          eventId: String(nextId++).padStart(20, '0'),
          ingestionTime: event.timestamp + 500,
        });
      }
    },
    failRegion(region, code, message) {
      failing.set(region, { code, message });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
