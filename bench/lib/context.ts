import type { CdnInfo } from '../cdn-child.js';
import type { Child } from './child.js';
import type { RowResult } from './report.js';

/** An original uploaded through the API for the rows that miss on it. */
export interface BenchInput {
  /** For the table: "2560×1600 JPEG". */
  label: string;
  /** Its plaintext on disk (the bare transform reads it). */
  file: string;
  /** Its image key in the local CDN. */
  key: string;
  bytes: number;
}

/** What every row gets: the mode, a scratch directory, and the servers under test. */
export interface BenchContext {
  quick: boolean;
  /** How many times each row runs in this `npm run bench` (BENCH_ROUNDS, default 3). */
  rounds: number;
  /** Scratch directory, removed at the end. */
  tmp: string;
  cdn: Child;
  cdnInfo: CdnInfo;
  /** s3rver and dynalite, in their own process. */
  storage: Child;
  /** IPX serving `ipxDir` at `ipxUrl` (rows 2). */
  ipx: Child;
  ipxUrl: string;
  ipxDir: string;
  /** The three originals of the limit row: the 2560×1600 photo, the 14.7 MP photo, the 13 MB PNG. */
  inputs: { photo2560: BenchInput; photo5120: BenchInput; png: BenchInput };
  /** Keys of copies of the 2560×1600 photo (the throughput row's parallel misses). */
  pool: string[];
  /** Deletes every derivative of `key` through the API (`edge-resizer purge`), so the next request is a miss again. */
  purge(key: string): Promise<void>;
  /** Progress on stderr, so stdout holds only the table. */
  progress(message: string): void;
}

/** A row of the table (or two, measured together), run once per round. */
export interface BenchRow {
  ids: number[];
  /** Figures that are the same in every round (bytes, scores) are measured in the first round only. */
  once?: boolean;
  run(round: number): Promise<RowResult | RowResult[]>;
  /** Stops what the row started (servers), after the last round. */
  close?(): Promise<void>;
}
