/**
 * `GET /api/images`: every image, one JSON line each
 * (`application/x-ndjson`), written page by page as the DynamoDB Scan reads
 * them. The handler holds one page and one pending item, never the table, and
 * the first lines leave before the scan is done.
 */
import type { Writable } from 'node:stream';
import { HttpError, invalidParam } from '../core/errors.js';
import type { ImageVersion, MetadataStore } from '../storage/metadata-store.js';
import type { Reply } from './reply.js';
import { describeVersion } from './uploads.js';

/** Items per Scan call. A page is read, written and dropped before the next. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export interface ListingQuery {
  /** `?limit=`: items read per Scan page. */
  pageSize: number;
  /** `?prefix=`: only keys starting with it. */
  prefix?: string;
}

export function parseListingQuery(query: URLSearchParams): ListingQuery {
  const limit = query.get('limit');
  let pageSize = DEFAULT_PAGE_SIZE;
  if (limit !== null) {
    pageSize = Number(limit);
    if (!/^\d+$/.test(limit) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      throw invalidParam('limit', `integer between 1 and ${MAX_PAGE_SIZE}`, limit);
    }
  }
  const prefix = query.get('prefix') ?? undefined;
  return { pageSize, prefix: prefix === '' ? undefined : prefix };
}

/**
 * Streams the listing. A Scan returns one key's versions together, oldest
 * first, so the latest of a key is the item before the key changes: each line
 * is one image at its latest version. The first page is read before the 200
 * is committed, so a storage failure up front is still a JSON error; a failure
 * later cuts the response (NDJSON has no way to say "incomplete" in-band).
 */
export async function streamListing(metadata: MetadataStore, reply: Reply, query: ListingQuery): Promise<void> {
  const pages = metadata.scanPages({ pageSize: query.pageSize, prefix: query.prefix });
  let page = await pages.next();
  const out = reply.open(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' });
  let pending: ImageVersion | undefined;
  while (!page.done) {
    let lines = '';
    for (const item of page.value) {
      if (pending && pending.key !== item.key) lines += line(pending);
      pending = item;
    }
    if (lines) await write(out, lines);
    page = await pages.next();
  }
  if (pending) await write(out, line(pending));
  await new Promise<void>((resolve, reject) => {
    out.once('error', reject);
    out.end(() => resolve());
  });
}

function line(item: ImageVersion): string {
  return `${JSON.stringify(describeVersion(item))}\n`;
}

/** Writes and waits for the client when it is slower than the table. */
async function write(out: Writable, text: string): Promise<void> {
  if (out.destroyed) throw gone();
  if (out.write(text)) return;
  await new Promise<void>((resolve, reject) => {
    const settle = (error?: Error) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      out.off('error', settle);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => settle();
    const onClose = () => settle(gone());
    out.once('drain', onDrain);
    out.once('close', onClose);
    out.once('error', settle);
  });
}

function gone(): HttpError {
  return new HttpError('internal_error', 'The client went away');
}
