/**
 * Where a deployed stage's functions log and publish, derived from the stage
 * name as serverless.yml names things: functions `edge-resizer-<stage>-<name>`
 * (serverless' `<service>-<stage>-<function>`), the viewer-request CloudFront
 * Function `<namePrefix>-<stage>-viewer-request` (resources/cdn.yml).
 *
 * Lambda@Edge writes a replica's logs in the region that ran it, to
 * `/aws/lambda/us-east-1.<function>` ("Edge function logs", CloudFront
 * Developer Guide), and its embedded metrics are extracted there too; test
 * invocations in us-east-1 log to the plain `/aws/lambda/<function>`.
 * CloudFront Functions log to `/aws/cloudfront/function/<name>` in us-east-1.
 */
import { CliError, EXIT } from './common.js';
import { EDGE_REGIONS } from './edge-regions.js';

export const SERVICE = 'edge-resizer';
export const DEFAULT_NAME_PREFIX = 'edge-resizer';
export const HOME_REGION = 'us-east-1';

export const STAGE_FUNCTIONS = ['originResponse', 'originRequest', 'api', 'viewerRequest'] as const;
export type StageFunction = (typeof STAGE_FUNCTIONS)[number];
/** The functions CloudFront runs as Lambda@Edge replicas. */
export const EDGE_FUNCTIONS = ['originRequest', 'originResponse'] as const;
export type EdgeFunction = (typeof EDGE_FUNCTIONS)[number];

/** A stage name as serverless accepts it (also what keeps it out of log group patterns). */
const STAGE_NAME = /^[a-zA-Z0-9-]{1,32}$/;

export function checkStage(stage: string | undefined): string {
  if (!stage || !STAGE_NAME.test(stage)) {
    throw new CliError(`--stage takes a deployed stage name (dev, prod…), not '${stage ?? ''}'`, EXIT.usage);
  }
  return stage;
}

export function checkFunction(name: string): StageFunction {
  if (!(STAGE_FUNCTIONS as readonly string[]).includes(name)) {
    throw new CliError(`--function takes ${STAGE_FUNCTIONS.join(', ')}, not '${name}'`, EXIT.usage);
  }
  return name as StageFunction;
}

export function lambdaName(stage: string, fn: Exclude<StageFunction, 'viewerRequest'>): string {
  return `${SERVICE}-${stage}-${fn}`;
}

export interface LogGroupQuery {
  /** The regions to look in. */
  regions: readonly string[];
  /** `DescribeLogGroups` prefixes, each naming exactly one group (checked on the answer). */
  names: string[];
}

/** The log group a Lambda@Edge replica writes to, in whichever region ran it. */
export function edgeReplicaLogGroup(stage: string, fn: EdgeFunction): string {
  return `/aws/lambda/${HOME_REGION}.${lambdaName(stage, fn)}`;
}

/** Where a function's log groups may be. */
export function logGroupsOf(stage: string, fn: StageFunction, namePrefix = DEFAULT_NAME_PREFIX): LogGroupQuery {
  if (fn === 'viewerRequest')
    return { regions: [HOME_REGION], names: [`/aws/cloudfront/function/${namePrefix}-${stage}-viewer-request`] };
  const name = lambdaName(stage, fn);
  if (fn === 'api') return { regions: [HOME_REGION], names: [`/aws/lambda/${name}`] };
  return { regions: EDGE_REGIONS, names: [edgeReplicaLogGroup(stage, fn), `/aws/lambda/${name}`] };
}

/** `30s`, `15m`, `2h`, `7d` → milliseconds. */
export function parseSince(text: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(text);
  if (!match) throw new CliError(`--since takes 30s, 15m, 2h or 7d, not '${text}'`, EXIT.usage);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
