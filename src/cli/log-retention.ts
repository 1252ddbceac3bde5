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
import { CloudWatchLogsClient, PutRetentionPolicyCommand } from '@aws-sdk/client-cloudwatch-logs';
import { describeAwsError } from './aws-error.js';
import { CliError, EXIT, forEachLimited } from './common.js';
import { EDGE_REGIONS } from './edge-regions.js';
import { findLogGroups } from './log-groups.js';
import { checkStage, EDGE_FUNCTIONS, edgeReplicaLogGroup } from './stage-resources.js';

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

export interface LogRetentionDeps {
  /** The client of one region (tests point it at a loopback fake). @default the SDK's, credentials its usual way */
  clientFor?: (region: string) => CloudWatchLogsClient;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

export async function logRetention(options: LogRetentionOptions, deps: LogRetentionDeps = {}): Promise<number> {
  const out = deps.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = deps.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const clientFor = deps.clientFor ?? ((region: string) => new CloudWatchLogsClient({ region, maxAttempts: 3 }));
  const stage = checkStage(options.stage);
  const days = Number(options.days);
  if (!(RETENTION_DAYS as readonly number[]).includes(days)) {
    throw new CliError(`--days takes one of CloudWatch's retention periods (${RETENTION_DAYS.join(', ')})`, EXIT.usage);
  }
  const regions = options.regions ? options.regions.split(',').map((r) => r.trim()) : [...EDGE_REGIONS];
  const badRegion = regions.find((region) => !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region));
  if (badRegion !== undefined) throw new CliError(`--regions: '${badRegion}' is not a region name`, EXIT.usage);

  const names = EDGE_FUNCTIONS.map((fn) => edgeReplicaLogGroup(stage, fn));
  let failed = 0;
  let found = 0;
  const print = (line: RetentionLine) => out(JSON.stringify(line));

  await forEachLimited(regions, 4, async (region) => {
    const client = clientFor(region);
    try {
      for (const group of await findLogGroups(client, names)) {
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
        print({ region, error: describeAwsError(error) });
      }
    } finally {
      client.destroy();
    }
  });

  const verb = options.dryRun ? 'would set' : 'set';
  err(
    `log-retention: ${found} Lambda@Edge log groups in ${regions.length} regions, ${verb} to ${days} days; ${failed} regions failed`,
  );
  return failed === 0 ? EXIT.ok : EXIT.failure;
}
