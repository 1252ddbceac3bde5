/**
 * The metadata table in DynamoDB: one item per original and
 * version, `key` (HASH, S) and `version` (RANGE, N). Missing items come back as
 * `undefined`; every failure, after the SDK's retries, is a 502
 * `storage_error` whose message names no table and carries no AWS error text.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { HttpError } from '../core/errors.js';
import type { FocalPoint } from '../core/params.js';

/** One stored version of an original. */
export interface ImageVersion {
  key: string;
  version: number;
  /** Sniffed from the bytes, e.g. `image/jpeg`. */
  contentType: string;
  /** As displayed (after EXIF orientation). */
  width: number;
  height: number;
  /** Plaintext bytes. */
  bytes: number;
  /** Hex SHA-256 of the plaintext. */
  sha256: string;
  /** ISO 8601. */
  created: string;
  /** Base64 ThumbHash placeholder. */
  thumbhash: string;
  /** The `X-Meta-*` headers of the upload, names lower-cased without the prefix. */
  meta: Record<string, string>;
  /** Where crops centre; absent when none was set. */
  focalPoint?: FocalPoint;
  /** The originals-bucket object holding this version's encrypted bytes (`_versions/…`, see src/api/uploads.ts). */
  objectKey: string;
}

export interface MetadataStoreOptions {
  client: DynamoDBClient;
  table: string;
  /**
   * Create the table the first time an operation finds it missing (local
   * server, tests). Deployed, CloudFormation owns the table and the API role
   * may not create one. @default true
   */
  createIfMissing?: boolean;
}

export interface ScanOptions {
  /** Items read per Scan call (DynamoDB's `Limit`). @default 100 */
  pageSize?: number;
  /** Only keys starting with this. */
  prefix?: string;
}

export type MetadataStore = ReturnType<typeof createMetadataStore>;

/** BatchWriteItem takes at most 25 requests. */
const BATCH_SIZE = 25;
const UNPROCESSED_RETRIES = 8;

export function createMetadataStore({ client, table, createIfMissing = true }: MetadataStoreOptions) {
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  // `key` is a DynamoDB reserved word: every expression names it through `#k`.
  const names = { '#k': 'key' };
  let ensuring: Promise<void> | undefined;

  async function ensureTable(): Promise<void> {
    ensuring ??= createTable().catch((error: unknown) => {
      ensuring = undefined;
      throw error;
    });
    return ensuring;
  }

  async function createTable(): Promise<void> {
    const exists = await client.send(new DescribeTableCommand({ TableName: table })).then(
      () => true,
      (error: unknown) => {
        if (isTableMissing(error)) return false;
        throw error;
      },
    );
    if (!exists) {
      await client
        .send(
          new CreateTableCommand({
            TableName: table,
            BillingMode: 'PAY_PER_REQUEST',
            AttributeDefinitions: [
              { AttributeName: 'key', AttributeType: 'S' },
              { AttributeName: 'version', AttributeType: 'N' },
            ],
            KeySchema: [
              { AttributeName: 'key', KeyType: 'HASH' },
              { AttributeName: 'version', KeyType: 'RANGE' },
            ],
          }),
        )
        .catch((error: unknown) => {
          // Another process created it first.
          if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
        });
    }
    await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { TableName: table });
  }

  /** The items of one key, a Query page at a time, strongly consistent. */
  async function* queryKey(key: string, projection?: string): AsyncGenerator<Record<string, unknown>[]> {
    let start: Record<string, unknown> | undefined;
    do {
      const response = await doc.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: '#k = :k',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':k': key },
          ProjectionExpression: projection,
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      yield response.Items ?? [];
      start = response.LastEvaluatedKey;
    } while (start);
  }

  /** Runs a table operation; a missing table is created once (when allowed) and the operation retried. */
  async function call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      try {
        return await operation();
      } catch (error) {
        if (!createIfMissing || !isTableMissing(error)) throw error;
        await ensureTable();
        return await operation();
      }
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw new HttpError('storage_error', 'Metadata storage is unavailable; try again', { cause: error });
    }
  }

  return {
    /** Creates the table if it does not exist and waits until it is usable. */
    ensureTable: () => call(ensureTable),

    /**
     * Writes a version only if `(key, version)` is free: the condition is what
     * makes two concurrent uploads of one key take different versions.
     * Returns false when the version was already taken.
     */
    putVersion: (item: ImageVersion) =>
      call(async () => {
        try {
          await doc.send(
            new PutCommand({
              TableName: table,
              Item: toItem(item),
              ConditionExpression: 'attribute_not_exists(#k)',
              ExpressionAttributeNames: names,
            }),
          );
          return true;
        } catch (error) {
          if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
          throw error;
        }
      }),

    /** One version, or undefined. */
    version: (key: string, version: number) =>
      call(async () => {
        const response = await doc.send(
          new GetCommand({ TableName: table, Key: { key, version }, ConsistentRead: true }),
        );
        return fromItem(response.Item);
      }),

    /** The highest version of `key`, or undefined. */
    latest: (key: string) =>
      call(async () => {
        const response = await doc.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: '#k = :k',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':k': key },
            ScanIndexForward: false,
            Limit: 1,
            ConsistentRead: true,
          }),
        );
        return fromItem(response.Items?.[0]);
      }),

    /** Every version of `key`, oldest first (one key's versions: a short list). */
    versions: (key: string) =>
      call(async () => {
        const items: ImageVersion[] = [];
        for await (const page of queryKey(key)) for (const item of page) items.push(fromItem(item) as ImageVersion);
        return items;
      }),

    /**
     * Sets (or with null, removes) the focal point of one version, which must
     * exist. Returns false when it does not (deleted meanwhile).
     */
    setFocalPoint: (key: string, version: number, focalPoint: FocalPoint | null) =>
      call(async () => {
        try {
          await doc.send(
            new UpdateCommand({
              TableName: table,
              Key: { key, version },
              ConditionExpression: 'attribute_exists(#k)',
              UpdateExpression: focalPoint ? 'SET focalPoint = :fp' : 'REMOVE focalPoint',
              ExpressionAttributeNames: names,
              ...(focalPoint ? { ExpressionAttributeValues: { ':fp': { x: focalPoint.x, y: focalPoint.y } } } : {}),
            }),
          );
          return true;
        } catch (error) {
          if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
          throw error;
        }
      }),

    /** Removes one version (the rollback of a failed upload). */
    deleteVersion: (key: string, version: number) =>
      call(async () => {
        await doc.send(new DeleteCommand({ TableName: table, Key: { key, version } }));
      }),

    /** Removes every version of `key`; returns how many there were. */
    deleteKey: (key: string) =>
      call(async () => {
        let deleted = 0;
        for await (const page of queryKey(key, '#k, version')) {
          const keys = page.map((item) => ({ key: item.key as string, version: item.version as number }));
          for (let i = 0; i < keys.length; i += BATCH_SIZE) await batchDelete(keys.slice(i, i + BATCH_SIZE));
          deleted += keys.length;
        }
        return deleted;
      }),

    /**
     * The table, one Scan page at a time, as it is read: a caller streaming
     * pages out holds one page, never the table. Items of one key arrive
     * together and in version order (a Scan walks each partition in sort-key
     * order), which the listing relies on to keep only the latest.
     */
    async *scanPages(options: ScanOptions = {}): AsyncGenerator<ImageVersion[]> {
      let start: Record<string, unknown> | undefined;
      do {
        const response = await call(() =>
          doc.send(
            new ScanCommand({
              TableName: table,
              Limit: options.pageSize ?? 100,
              ExclusiveStartKey: start,
              ...(options.prefix
                ? {
                    FilterExpression: 'begins_with(#k, :prefix)',
                    ExpressionAttributeNames: names,
                    ExpressionAttributeValues: { ':prefix': options.prefix },
                  }
                : {}),
            }),
          ),
        );
        yield (response.Items ?? []).map((item) => fromItem(item) as ImageVersion);
        start = response.LastEvaluatedKey;
      } while (start);
    },
  };

  async function batchDelete(keys: { key: string; version: number }[]): Promise<void> {
    let requests = keys.map((Key) => ({ DeleteRequest: { Key } }));
    for (let attempt = 0; requests.length > 0; attempt += 1) {
      if (attempt > UNPROCESSED_RETRIES) throw new Error('BatchWriteItem left items unprocessed');
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * 2 ** attempt));
      const response = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
      requests = (response.UnprocessedItems?.[table] ?? []) as typeof requests;
    }
  }
}

/**
 * An item as the document client marshals it. `meta` holds names a client
 * chose: as a plain object, an own `constructor` name makes the marshaller
 * refuse the whole item (it tells maps from class instances by
 * `constructor.name`), so it goes in as a `Map`, which is marshalled by its entries.
 */
function toItem(item: ImageVersion): Record<string, unknown> {
  return { ...item, meta: new Map(Object.entries(item.meta)) };
}

/** An item read back, its `meta` in an object without a prototype. */
function fromItem(item: Record<string, unknown> | undefined): ImageVersion | undefined {
  if (!item) return undefined;
  const meta: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries((item.meta ?? {}) as Record<string, unknown>)) {
    if (typeof value === 'string') meta[name] = value;
  }
  return { ...(item as unknown as ImageVersion), meta };
}

function isTableMissing(error: unknown): boolean {
  return (error as { name?: string })?.name === 'ResourceNotFoundException';
}
