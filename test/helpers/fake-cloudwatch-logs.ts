/**
 * A loopback CloudWatch Logs for the real `@aws-sdk/client-cloudwatch-logs`
 * client: AWS JSON 1.1, `X-Amz-Target: Logs_20140328.<Operation>`, per region
 * by the request's signature scope (./aws-json-server.ts), so a client
 * configured for `eu-west-1` sees only `eu-west-1`'s log groups.
 *
 * Operations, one function each in `OPERATIONS` over the region's groups and
 * the request body: DescribeLogGroups (by `logGroupNamePrefix`, paged),
 * FilterLogEvents (`startTime`/`endTime`, a `filterPattern` taken as a plain
 * term, `limit`, paged), PutRetentionPolicy (the periods the API accepts).
 * What `edge-resizer logs` and `log-retention` call; add one there to fake
 * another. Every page holds at most `pageSize` items, so small pages make a
 * client follow `nextToken`.
 */
import { AwsJsonError, startAwsJsonServer } from './aws-json-server.js';

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
  if (!group) throw new AwsJsonError('ResourceNotFoundException', 'The specified log group does not exist.');
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
      throw new AwsJsonError('InvalidParameterException', `Invalid retentionInDays ${String(body.retentionInDays)}`);
    }
    group.retentionInDays = body.retentionInDays;
    return {};
  },
};

export async function startFakeCloudWatchLogs(options: FakeCloudWatchLogsOptions = {}): Promise<FakeCloudWatchLogs> {
  const state: FakeLogsState = new Map();
  const calls: FakeLogsCall[] = [];
  let nextEventId = 1;
  const regionGroups = (region: string) => {
    const groups = state.get(region) ?? new Map<string, FakeLogGroup>();
    state.set(region, groups);
    return groups;
  };

  const server = await startAwsJsonServer({
    service: 'logs',
    targetPrefix: 'Logs_20140328',
    protocol: 'awsJson1_1',
    handle({ region, operation, body }) {
      if (options.disabledRegions?.includes(region)) {
        throw new AwsJsonError('UnrecognizedClientException', 'The security token included in the request is invalid.');
      }
      if (options.failingRegions?.includes(region)) {
        throw new AwsJsonError('ServiceUnavailableException', 'The service is unavailable.', 500);
      }
      const handle = OPERATIONS[operation];
      if (!handle) throw new AwsJsonError('UnknownOperationException', `Unknown operation ${operation}`);
      return handle(regionGroups(region), body, { region, pageSize: options.pageSize ?? 50 });
    },
    onAnswer: ({ region, operation, body }, status) => calls.push({ region, operation, body, status }),
  });

  return {
    endpoint: server.endpoint,
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
    close: server.close,
  };
}
