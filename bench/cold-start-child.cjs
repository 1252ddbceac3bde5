'use strict';
/**
 * Row 7's fresh process: loads the bundled origin-response handler, as the
 * Lambda runtime does on a cold start, and feeds it CloudFront events (each a
 * miss on a new derivative). Plain CommonJS run by plain node: no tsx, no
 * loader, nothing the deployed function would not have.
 *
 *   node cold-start-child.cjs <bundle.js> <events.json>
 * prints one JSON line: { bootMs, sharpMs, importMs, invocations: [{ ms, doneAtMs, status, timing }] }
 */
const { performance } = require('node:perf_hooks');

// ms since this process started (Node's time origin): the runtime's own boot.
const bootMs = performance.now();
const { readFileSync } = require('node:fs');

async function main() {
  const [bundle, eventsFile] = process.argv.slice(2);
  const events = JSON.parse(readFileSync(eventsFile, 'utf8'));
  // sharp first, on its own: the bundle requires it (external) at load, so this only splits the same work in two.
  const sharpStart = performance.now();
  require('sharp');
  const sharpMs = performance.now() - sharpStart;
  const importStart = performance.now();
  const { handler } = require(bundle);
  const importMs = performance.now() - importStart;
  const invocations = [];
  for (const event of events) {
    const start = performance.now();
    const result = await handler(event);
    const done = performance.now();
    const timing = result.headers?.['server-timing']?.[0]?.value ?? '';
    invocations.push({ ms: done - start, doneAtMs: done, status: Number(result.status), timing });
  }
  process.stdout.write(`${JSON.stringify({ bootMs, sharpMs, importMs, invocations })}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
