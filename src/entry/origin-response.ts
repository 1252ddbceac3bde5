/**
 * The Lambda@Edge origin-response entry point (serverless.yml `originResponse`):
 * configuration baked in at build time, clients made once per container.
 */
import { availableParallelism, totalmem } from 'node:os';
import { configureSharpForLambda } from '../core/transform.js';
import { createOriginResponseHandler, type OriginResponseHandler } from '../edge/origin-response.js';
import { deployedAccess } from '../wiring/access.js';
import { bakedConfig } from '../wiring/baked-config.js';
import { createEdgeWiring } from '../wiring/edge.js';

let deployed: OriginResponseHandler | undefined;

export const handler: OriginResponseHandler = (event) => {
  if (!deployed) {
    // Lambda's sandbox reports its configured memory as the machine's.
    configureSharpForLambda(totalmem() / 1024 / 1024, availableParallelism());
    deployed = createOriginResponseHandler(createEdgeWiring(bakedConfig(), deployedAccess()));
  }
  return deployed(event);
};
