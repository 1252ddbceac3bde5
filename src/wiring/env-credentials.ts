/**
 * Stands in for `@aws-sdk/credential-provider-node` in the deployed bundles
 * (esbuild `alias`, esbuild.config.cjs): Lambda puts the function role's
 * credentials in the environment, so the SDK's default chain (SSO, STS, INI
 * files, process, IMDS, container metadata: about 100 KB of code to parse on
 * every cold start) is never needed. Same export as the real package.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

export const defaultProvider = (init?: Parameters<typeof fromEnv>[0]) => fromEnv(init);
