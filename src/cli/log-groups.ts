/**
 * Finding named log groups in one region, for `logs` and `log-retention`:
 * CloudWatch Logs has no lookup by exact name, so each name is a
 * `DescribeLogGroups` prefix ("DescribeLogGroups", CloudWatch Logs API
 * Reference), paged, and the answer is cut to the exact name (the prefix also
 * matches longer ones: `…-originRequestOld`, another function).
 */
import { type CloudWatchLogsClient, DescribeLogGroupsCommand, type LogGroup } from '@aws-sdk/client-cloudwatch-logs';

/** Pages per name; more would mean the prefix names far more than our group. */
const MAX_PAGES = 10;

/** The groups of `names` that exist in the client's region, in the order of `names`. */
export async function findLogGroups(client: CloudWatchLogsClient, names: readonly string[]): Promise<LogGroup[]> {
  const found: LogGroup[] = [];
  for (const name of names) {
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const answer = await client.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name, nextToken }));
      for (const group of answer.logGroups ?? []) if (group.logGroupName === name) found.push(group);
      nextToken = answer.nextToken;
      if (!nextToken) break;
    }
  }
  return found;
}
