/** The Lambda@Edge origin-request entry point (serverless.yml `originRequest`): configuration baked in at build time. */
import { createOriginRequestHandler, type OriginRequestHandler } from '../edge/origin-request.js';
import { bakedConfig } from '../wiring/baked-config.js';

let deployed: OriginRequestHandler | undefined;

export const handler: OriginRequestHandler = (event) => {
  deployed ??= createOriginRequestHandler(bakedConfig());
  return deployed(event);
};
