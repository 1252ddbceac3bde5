/**
 * The deployed API entry point (serverless.yml `api`, function URL in
 * `RESPONSE_STREAM` mode): configuration baked in at build time, clients made
 * once per container on the first request. Outside Lambda the streaming shim
 * supplies the `awslambda` global, so this module also loads in tests.
 */
import { createApiHandler } from '../api/app.js';
import type { StreamingHandler } from '../api/lambda-stream.js';
import { installStreamingShim } from '../local/streaming-shim.js';
import { createDeployedApiDeps } from '../wiring/api.js';
import { bakedConfig } from '../wiring/baked-config.js';

installStreamingShim();

let deployed: StreamingHandler | undefined;

export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  deployed ??= createApiHandler(createDeployedApiDeps(bakedConfig()));
  await deployed(event, responseStream, context);
});
