/**
 * Bench child: the hit row's load generator (bench/lib/loadgen.ts) in a
 * process of its own, so neither the bench process nor the server under test
 * shares its event loop. Driven over IPC by bench/lib/child.ts.
 */
import { serveChild } from './lib/child.js';
import { type LoadOptions, runLoad } from './lib/loadgen.js';

serveChild({
  run: (options: LoadOptions) => runLoad(options),
  close: () => undefined,
});
