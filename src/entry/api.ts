/**
 * The deployed API entry point (serverless.yml `api`, function URL in
 * `RESPONSE_STREAM` mode): configuration baked in at build time, clients made
 * once per container on the first request. `awslambda` is the Lambda
 * runtime's global, defined before this module loads; whoever loads it
 * elsewhere defines it first (the local CDN's `src/local/streaming-shim.ts`,
 * the deploy tests' runtime harness).
 */
import { createApiHandler } from '../api/app.js';
import type { StreamingHandler } from '../api/lambda-stream.js';
import { createDeployedApiDeps } from '../wiring/api.js';
import { bakedConfig } from '../wiring/baked-config.js';

let deployed: StreamingHandler | undefined;

export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  deployed ??= createApiHandler(createDeployedApiDeps(bakedConfig()));
  await deployed(event, responseStream, context);
});
