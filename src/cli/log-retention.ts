/**
 * `edge-resizer log-retention --stage <s> [--days N]`: Lambda@Edge replicas
 * log to `/aws/lambda/us-east-1.<function>` in whichever region ran them
 * ("Edge function logs", CloudFront Developer Guide), log groups the stack
 * cannot create or bound (it lives in us-east-1 only), so they would keep
 * every line forever. This finds them in every region where CloudFront has
 * regional edge caches (or `--regions`) and sets their retention.
 *
 * One JSON line per log group on stdout; a region whose account has not
 * enabled it is reported and skipped; exit 1 if any region failed.
 */
import {
  CloudWatchLogsClient,
  DescribeLogGroupsCommand,
  type LogGroup,
  PutRetentionPolicyCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { CliError, EXIT, forEachLimited } from './common.js';

/** The serverless.yml service and its Lambda@Edge functions. */
const SERVICE = 'edge-resizer';
const EDGE_FUNCTIONS = ['originRequest', 'originResponse'] as const;
/** Lambda@Edge functions are created in us-east-1, and their log groups keep that prefix everywhere. */
const HOME_REGION = 'us-east-1';

/**
 * The regions with CloudFront regional edge caches, where Lambda@Edge runs
 * and so where its log groups appear. Add others with `--regions` if
 * CloudFront opens more.
 */
export const EDGE_REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'ap-south-1',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'eu-central-1',
  'eu-west-1',
  'eu-west-2',
  'sa-east-1',
] as const;

/** What PutRetentionPolicy accepts ("PutRetentionPolicy", CloudWatch Logs API Reference). */
export const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export interface LogRetentionOptions {
  stage: string;
  days: string;
  regions?: string;
  dryRun?: boolean;
}

export type RetentionLine =
  | { region: string; logGroup: string; retentionInDays: number | null; set: number; changed: boolean }
  | { region: string; skipped: string }
  | { region: string; error: string };

/** `/aws/lambda/us-east-1.edge-resizer-<stage>-<function>`, the names Lambda@Edge gives its log groups. */
export const edgeLogGroupNames = (stage: string) =>
  EDGE_FUNCTIONS.map((fn) => `/aws/lambda/${HOME_REGION}.${SERVICE}-${stage}-${fn}`);

export async function logRetention(options: LogRetentionOptions): Promise<number> {
  if (!/^[a-z][a-z0-9-]{0,15}$/.test(options.stage)) {
    throw new CliError(`--stage takes a stage name such as dev or prod, not '${options.stage}'`, EXIT.usage);
  }
  const days = Number(options.days);
  if (!(RETENTION_DAYS as readonly number[]).includes(days)) {
    throw new CliError(`--days takes one of CloudWatch's retention periods (${RETENTION_DAYS.join(', ')})`, EXIT.usage);
  }
  const regions = options.regions ? options.regions.split(',').map((r) => r.trim()) : [...EDGE_REGIONS];
  const badRegion = regions.find((region) => !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region));
  if (badRegion !== undefined) throw new CliError(`--regions: '${badRegion}' is not a region name`, EXIT.usage);

  const names = new Set(edgeLogGroupNames(options.stage));
  const prefix = `/aws/lambda/${HOME_REGION}.${SERVICE}-${options.stage}-`;
  let failed = 0;
  let found = 0;
  const print = (line: RetentionLine) => process.stdout.write(`${JSON.stringify(line)}\n`);

  await forEachLimited(regions, 4, async (region) => {
    const client = new CloudWatchLogsClient({ region, maxAttempts: 3 });
    try {
      const groups: LogGroup[] = [];
      let nextToken: string | undefined;
      do {
        const page = await client.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: prefix, nextToken }));
        groups.push(...(page.logGroups ?? []).filter((group) => names.has(group.logGroupName ?? '')));
        nextToken = page.nextToken;
      } while (nextToken);
      for (const group of groups) {
        const logGroup = group.logGroupName as string;
        const before = group.retentionInDays ?? null;
        const changed = before !== days;
        if (changed && !options.dryRun) {
          await client.send(new PutRetentionPolicyCommand({ logGroupName: logGroup, retentionInDays: days }));
        }
        found += 1;
        print({ region, logGroup, retentionInDays: before, set: days, changed });
      }
    } catch (error) {
      const name = (error as { name?: string }).name;
      // An opt-in region the account has not enabled rejects its credentials: nothing can run there.
      if (name === 'UnrecognizedClientException' || name === 'InvalidSignatureException') {
        print({ region, skipped: 'the region is not enabled for this account' });
      } else {
        failed += 1;
        print({ region, error: `${name ?? 'Error'}: ${(error as Error).message}` });
      }
    } finally {
      client.destroy();
    }
  });

  const verb = options.dryRun ? 'would set' : 'set';
  process.stderr.write(
    `log-retention: ${found} Lambda@Edge log groups in ${regions.length} regions, ${verb} to ${days} days; ${failed} regions failed\n`,
  );
  return failed === 0 ? EXIT.ok : EXIT.failure;
}
