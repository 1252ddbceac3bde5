import type { CdnInfo } from '../cdn-child.js';
import type { Child } from './child.js';

/** What every row gets: the mode, a scratch directory, and the servers under test. */
export interface BenchContext {
  quick: boolean;
  /** Scratch directory, removed at the end. */
  tmp: string;
  cdn: Child;
  cdnInfo: CdnInfo;
  /** IPX serving `ipxDir` at `ipxUrl` (rows 2). */
  ipx: Child;
  ipxUrl: string;
  ipxDir: string;
  /** Keys of copies of the 2560×1600 photo uploaded through the API: each (key, variant) pair is one real miss. */
  pool: string[];
  /** Progress on stderr, so stdout holds only the table. */
  progress(message: string): void;
}
