import { expect } from 'chai';
import { HttpError } from '../../src/core/errors.js';
import { createMetadataStore, type ImageVersion } from '../../src/storage/metadata-store.js';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo.js';

function version(key: string, n: number, meta: Record<string, string> = {}): ImageVersion {
  return {
    key,
    version: n,
    contentType: 'image/png',
    width: 10,
    height: 20,
    bytes: 100 + n,
    sha256: 'cd'.repeat(32),
    created: '2025-01-01T00:00:00.000Z',
    thumbhash: 'AAAA',
    meta,
    objectKey: `_versions/${key}/id${n}`,
  };
}

describe('storage/metadata-store (dynalite)', () => {
  let dynamo: TestDynamo;
  before(async () => {
    dynamo = await startTestDynamo();
  });
  after(() => dynamo.close());

  it('round-trips a version, metadata map included, and refuses to overwrite it', async () => {
    const first = version('a/b.jpg', 1, { author: 'Jane', 'photo.id': '42' });
    expect(await dynamo.metadata.putVersion(first)).to.equal(true);
    expect(await dynamo.metadata.putVersion({ ...first, bytes: 1 })).to.equal(false);
    expect(await dynamo.metadata.version('a/b.jpg', 1)).to.deep.equal(first);
    expect(await dynamo.metadata.version('a/b.jpg', 2)).to.equal(undefined);
  });

  it('round-trips meta names that are Object.prototype members', async () => {
    const meta = Object.assign(Object.create(null) as Record<string, string>, {
      constructor: 'x',
      hasownproperty: 'y',
      tostring: 'z',
    });
    expect(await dynamo.metadata.putVersion(version('proto/names.jpg', 1, meta))).to.equal(true);
    const read = await dynamo.metadata.version('proto/names.jpg', 1);
    expect(Object.entries(read?.meta ?? {})).to.deep.equal(Object.entries(meta));
    expect(Object.getPrototypeOf(read?.meta)).to.equal(null);
    expect((await dynamo.metadata.versions('proto/names.jpg'))[0]?.meta.constructor).to.equal('x');
  });

  it('reads the latest and every version in order, and deletes one or all', async () => {
    for (const n of [3, 1, 2]) await dynamo.metadata.putVersion(version('v.jpg', n));
    expect((await dynamo.metadata.latest('v.jpg'))?.version).to.equal(3);
    expect((await dynamo.metadata.versions('v.jpg')).map((item) => item.version)).to.deep.equal([1, 2, 3]);
    await dynamo.metadata.deleteVersion('v.jpg', 3);
    expect((await dynamo.metadata.latest('v.jpg'))?.version).to.equal(2);
    expect(await dynamo.metadata.deleteKey('v.jpg')).to.equal(2);
    expect(await dynamo.metadata.latest('v.jpg')).to.equal(undefined);
  });

  it('deletes a key with more versions than one batch holds', async () => {
    await Promise.all(Array.from({ length: 60 }, (_, i) => dynamo.metadata.putVersion(version('many.jpg', i + 1))));
    expect(await dynamo.metadata.deleteKey('many.jpg')).to.equal(60);
    expect(await dynamo.metadata.versions('many.jpg')).to.deep.equal([]);
  });

  it('scans page by page, each key’s versions together and in order, with an optional prefix', async () => {
    await Promise.all(
      ['p/1.jpg', 'p/2.jpg', 'q/1.jpg'].flatMap((key) =>
        [1, 2].map((n) => dynamo.metadata.putVersion(version(key, n))),
      ),
    );
    const pages: ImageVersion[][] = [];
    for await (const page of dynamo.metadata.scanPages({ pageSize: 2 })) pages.push(page);
    expect(Math.max(...pages.map((page) => page.length))).to.be.at.most(2);
    const seen = pages.flat().map((item) => `${item.key}#${item.version}`);
    for (const key of ['p/1.jpg', 'p/2.jpg', 'q/1.jpg']) {
      expect(seen.indexOf(`${key}#2`) - seen.indexOf(`${key}#1`)).to.equal(1);
    }
    const filtered: string[] = [];
    for await (const page of dynamo.metadata.scanPages({ prefix: 'p/' }))
      filtered.push(...page.map((item) => item.key));
    expect([...new Set(filtered)].sort()).to.deep.equal(['p/1.jpg', 'p/2.jpg']);
  });

  it('creates a missing table on first use, or answers 502 storage_error when told not to', async () => {
    const fresh = createMetadataStore({ client: dynamo.client, table: 'created-on-first-use' });
    expect(await fresh.putVersion(version('x.jpg', 1))).to.equal(true);
    const strict = createMetadataStore({ client: dynamo.client, table: 'never-created', createIfMissing: false });
    const error = await strict.latest('x.jpg').catch((e: unknown) => e);
    expect(error).to.be.instanceOf(HttpError).with.property('code', 'storage_error');
    expect((error as HttpError).message).to.not.include('never-created');
  });
});
