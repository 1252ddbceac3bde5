/**
 * The regions with a CloudFront regional edge cache: where Lambda@Edge
 * replicas run, so where their log groups and embedded metrics appear ("Edge
 * function logs", CloudFront Developer Guide). Add a region here when
 * CloudFront opens a regional edge cache there. The list is JSON so that
 * resources/dashboard.cjs, run by `sls package`, reads the same one as the
 * CLI (logs, stats, log-retention).
 */
import regions from './edge-regions.json' with { type: 'json' };

export const EDGE_REGIONS: readonly string[] = Object.freeze([...regions]);
