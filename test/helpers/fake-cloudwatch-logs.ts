/**
 * A loopback CloudWatch Logs for the real `@aws-sdk/client-cloudwatch-logs`
 * client: AWS JSON 1.1 (`POST /`, `X-Amz-Target: Logs_20140328.<Operation>`,
 * `application/x-amz-json-1.1`), errors as `{"__type", "message"}` with
 * status 400. One server answers every region: the region of a request is the
 * one its Signature V4 credential scope names (`Credential=<key>/<date>/<region>/logs/…`),
 * as the real endpoints are per region, so a client configured for
 * `eu-west-1` sees only `eu-west-1`'s log groups.
 *
 * Operations, one function each in `OPERATIONS` over the region's groups and
 * the request body: DescribeLogGroups (by `logGroupNamePrefix`, paged),
 * FilterLogEvents (`startTime`/`endTime`, a `filterPattern` taken as a plain
 * term, `limit`, paged), PutRetentionPolicy (the periods the API accepts).
 * What `edge-resizer logs` and `log-retention` call; add one there to fake
 * another. Every page holds at most `pageSize` items, so small pages make a
 * client follow `nextToken`.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeLogEvent {
  timestamp: number;
  message: string;
  logStreamName?: string;
}

/** An event as FilterLogEvents returns it. */
export interface StoredLogEvent extends Required<FakeLogEvent> {
  eventId: string;
  ingestionTime: number;
}

export interface FakeLogGroup {
  retentionInDays?: number;
  creationTime: number;
  events: StoredLogEvent[];
}

/** Region → log group name → group. */
export type FakeLogsState = Map<string, Map<string, FakeLogGroup>>;

export interface FakeLogsCall {
  region: string;
  operation: string;
  body: Record<string, unknown>;
  status: number;
}

export interface FakeCloudWatchLogs {
  endpoint: string;
  state: FakeLogsState;
  calls: FakeLogsCall[];
  /** Adds (or replaces) a log group in a region. */
  addGroup(region: string, name: string, group?: { retentionInDays?: number; creationTime?: number }): void;
  /** Appends events to a group of a region, creating the group if missing (as a replica's first line does). */
  addEvents(region: string, name: string, events: FakeLogEvent[]): void;
  group(region: string, name: string): FakeLogGroup | undefined;
  close(): Promise<void>;
}

export interface FakeCloudWatchLogsOptions {
  /** Regions that answer as an opt-in region the account has not enabled (UnrecognizedClientException). */
  disabledRegions?: string[];
  /** Regions whose every call fails with a 500 ServiceUnavailableException. */
  failingRegions?: string[];
  /** Log groups or events per page unless the request's `limit` is lower. @default 50 */
  pageSize?: number;
}

/** A client error of the protocol: status 400 and its `__type`. */
export class LogsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

type Operation = (
  groups: Map<string, FakeLogGroup>,
  body: Record<string, unknown>,
  context: { region: string; pageSize: number },
) => unknown;

/** The retention values PutRetentionPolicy accepts ("PutRetentionPolicy", CloudWatch Logs API Reference). */
export const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

const requireGroup = (groups: Map<string, FakeLogGroup>, name: unknown): FakeLogGroup => {
  const group = typeof name === 'string' ? groups.get(name) : undefined;
  if (!group) throw new LogsError('ResourceNotFoundException', 'The specified log group does not exist.');
  return group;
};

export const OPERATIONS: Record<string, Operation> = {
  DescribeLogGroups(groups, body, { region, pageSize }) {
    const prefix = typeof body.logGroupNamePrefix === 'string' ? body.logGroupNamePrefix : '';
    const limit = Math.min(typeof body.limit === 'number' ? body.limit : 50, pageSize);
    const names = [...groups.keys()].filter((name) => name.startsWith(prefix)).sort();
    const start = typeof body.nextToken === 'string' ? Number(body.nextToken) : 0;
    const page = names.slice(start, start + limit);
    return {
      logGroups: page.map((name) => {
        const group = groups.get(name) as FakeLogGroup;
        return {
          logGroupName: name,
          arn: `arn:aws:logs:${region}:123456789012:log-group:${name}:*`,
          creationTime: group.creationTime,
          storedBytes: group.events.reduce((sum, event) => sum + event.message.length, 0),
          ...(group.retentionInDays === undefined ? {} : { retentionInDays: group.retentionInDays }),
        };
      }),
      ...(start + limit < names.length ? { nextToken: String(start + limit) } : {}),
    };
  },
  FilterLogEvents(groups, body, { pageSize }) {
    const group = requireGroup(groups, body.logGroupName);
    const startTime = typeof body.startTime === 'number' ? body.startTime : 0;
    const endTime = typeof body.endTime === 'number' ? body.endTime : Number.POSITIVE_INFINITY;
    const term = typeof body.filterPattern === 'string' ? body.filterPattern.replace(/^"|"$/g, '') : '';
    const matching = group.events
      .filter((e) => e.timestamp >= startTime && e.timestamp <= endTime && (term === '' || e.message.includes(term)))
      .sort((a, b) => a.timestamp - b.timestamp);
    const limit = Math.min(typeof body.limit === 'number' ? body.limit : pageSize, pageSize);
    const start = typeof body.nextToken === 'string' ? Number(body.nextToken) : 0;
    return {
      events: matching.slice(start, start + limit).map((e) => ({ ...e })),
      searchedLogStreams: [],
      ...(start + limit < matching.length ? { nextToken: String(start + limit) } : {}),
    };
  },
  PutRetentionPolicy(groups, body) {
    const group = requireGroup(groups, body.logGroupName);
    if (typeof body.retentionInDays !== 'number' || !RETENTION_DAYS.includes(body.retentionInDays)) {
      throw new LogsError('InvalidParameterException', `Invalid retentionInDays ${String(body.retentionInDays)}`);
    }
    group.retentionInDays = body.retentionInDays;
    return {};
  },
};

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

export async function startFakeCloudWatchLogs(options: FakeCloudWatchLogsOptions = {}): Promise<FakeCloudWatchLogs> {
  const state: FakeLogsState = new Map();
  const calls: FakeLogsCall[] = [];
  let nextEventId = 1;
  const regionGroups = (region: string) => {
    const groups = state.get(region) ?? new Map<string, FakeLogGroup>();
    state.set(region, groups);
    return groups;
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const text = await read(req);
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.startsWith('Logs_20140328.') ? target.slice('Logs_20140328.'.length) : '';
      const region = /Credential=[^/]+\/\d{8}\/([a-z0-9-]+)\/logs\/aws4_request/.exec(
        String(req.headers.authorization ?? ''),
      )?.[1];
      let body: Record<string, unknown> = {};
      let status = 200;
      let answer: unknown;
      try {
        if (req.method !== 'POST' || !String(req.headers['content-type']).startsWith('application/x-amz-json-1.1')) {
          throw new LogsError('SerializationException', 'Expected an AWS JSON 1.1 POST');
        }
        if (!region) throw new LogsError('MissingAuthenticationTokenException', 'Request is missing a signature');
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        if (options.disabledRegions?.includes(region)) {
          throw new LogsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
        }
        if (options.failingRegions?.includes(region)) {
          throw new LogsError('ServiceUnavailableException', 'The service is unavailable.', 500);
        }
        const handle = OPERATIONS[operation];
        if (!handle) throw new LogsError('UnknownOperationException', `Unknown operation ${target}`);
        answer = handle(regionGroups(region), body, { region, pageSize: options.pageSize ?? 50 });
      } catch (error) {
        const failure = error instanceof LogsError ? error : new LogsError('InternalFailure', String(error), 500);
        status = failure.status;
        answer = { __type: failure.type, message: failure.message };
      }
      calls.push({ region: region ?? '', operation, body, status });
      const json = JSON.stringify(answer);
      res.writeHead(status, {
        'content-type': 'application/x-amz-json-1.1',
        'content-length': Buffer.byteLength(json),
        'x-amzn-requestid': `fake-${calls.length}`,
      });
      res.end(json);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    calls,
    addGroup(region, name, group = {}) {
      regionGroups(region).set(name, { creationTime: Date.now(), events: [], ...group });
    },
    addEvents(region, name, events) {
      const groups = regionGroups(region);
      const group = groups.get(name) ?? { creationTime: Date.now(), events: [] };
      groups.set(name, group);
      for (const event of events) {
        group.events.push({
          logStreamName: event.logStreamName ?? '2026/12/08/[1]0123456789abcdef',
          timestamp: event.timestamp,
          message: event.message,
          eventId: String(nextEventId++).padStart(20, '0'),
          ingestionTime: event.timestamp + 500,
        });
      }
    },
    group: (region, name) => state.get(region)?.get(name),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
