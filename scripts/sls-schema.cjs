'use strict';
/**
 * Local serverless plugin: completes serverless 3's configuration schema so
 * serverless.yml can run with `configValidationMode: error` (a misspelt
 * property anywhere then fails the build instead of being ignored).
 *
 * - `lambdaAtEdge`, the function property serverless-plugin-cloudfront-lambda-edge
 *   reads but declares no schema for.
 * - Node.js runtimes newer than serverless 3.40 knows (its list stops at
 *   nodejs20.x, whose function creation Lambda has refused since 2026-06-01).
 */
const NEWER_NODE_RUNTIMES = ['nodejs22.x', 'nodejs24.x'];

const association = {
  type: 'object',
  properties: {
    distribution: { type: 'string' },
    eventType: { enum: ['viewer-request', 'origin-request', 'viewer-response', 'origin-response'] },
    pathPattern: { type: 'string' },
    includeBody: { type: 'boolean' },
  },
  required: ['distribution', 'eventType'],
  additionalProperties: false,
};

class EdgeResizerSchema {
  constructor(serverless) {
    const handler = serverless.configSchemaHandler;
    handler.defineFunctionProperties('aws', {
      properties: {
        lambdaAtEdge: { anyOf: [association, { type: 'array', items: association }] },
      },
    });
    const runtimes = handler.schema.definitions.awsLambdaRuntime;
    for (const runtime of NEWER_NODE_RUNTIMES) {
      if (!runtimes.enum.includes(runtime)) runtimes.enum.push(runtime);
    }
  }
}

module.exports = EdgeResizerSchema;
