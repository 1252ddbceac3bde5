import { createConfig, type EdgeResizerConfig, type EdgeResizerConfigInput } from '../core/config.js';

/**
 * Per-stage configuration baked into the bundle at build time: Lambda@Edge has
 * no environment variables. `esbuild.config.cjs` defines `__EDGE_RESIZER_CONFIG__`
 * as an object literal built from `serverless.yml`'s `custom.stages.<stage>`;
 * outside a bundle (tests, local server) it is undefined and callers pass their
 * config to the handler factories instead.
 */
declare const __EDGE_RESIZER_CONFIG__: EdgeResizerConfigInput | undefined;

export function bakedConfig(): EdgeResizerConfig {
  const baked = typeof __EDGE_RESIZER_CONFIG__ === 'undefined' ? undefined : __EDGE_RESIZER_CONFIG__;
  if (!baked)
    throw new Error('edge-resizer: no configuration was baked into this bundle (build it with `sls package`)');
  return createConfig(baked);
}
