/**
 * The bench's own measuring parts, against real servers: the loopback SSM the
 * cold-start row points the bundle at (through AWS_ENDPOINT_URL_SSM, as the
 * bundle does), the raw S3 + decrypt calls of row 1's limit (against
 * s3rver and the product's own envelope), how rounds merge into a median and a
 * spread, and the butteraugli output parser.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { parseButteraugli } from '../../bench/lib/butteraugli.js';
import { raw404, rawDecrypt, rawGet, rawPut, rawS3Client } from '../../bench/lib/raw.js';
import { figure, mergeRounds, type RowResult, renderTable } from '../../bench/lib/report.js';
import { type SsmServer, startSsmServer } from '../../bench/lib/ssm-server.js';
import { ms } from '../../bench/lib/stats.js';
import { encryptBuffer } from '../../src/core/envelope.js';
import { createSsmReader } from '../../src/storage/clients.js';
import { startTestStorage, type TestStorage } from '../helpers/storage.js';

describe('bench/lib', () => {
  describe('ssm-server', () => {
    let ssm: SsmServer;
    const saved = { ...process.env };
    before(async () => {
      ssm = await startSsmServer({ '/edge-resizer/bench/master-key': 'ab'.repeat(32) });
    });
    after(async () => {
      process.env = saved;
      await ssm.close();
    });

    it("answers GetParameter to the product's SSM reader that found it through AWS_ENDPOINT_URL_SSM", async () => {
      process.env.AWS_ENDPOINT_URL_SSM = ssm.endpoint;
      // The cold-start row's child gets these credentials; the server checks their signature.
      const read = createSsmReader({
        region: 'us-east-1',
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', sessionToken: 'bench' },
        timeoutMs: 5000,
        maxAttempts: 1,
      });
      try {
        const before = ssm.reads();
        expect(await read('/edge-resizer/bench/master-key')).to.equal('ab'.repeat(32));
        expect(ssm.reads()).to.equal(before + 1);
        const missing = await read('/nope').then(
          () => undefined,
          (error: Error) => error,
        );
        expect(missing?.name).to.equal('ParameterNotFound');
        expect(ssm.reads()).to.equal(before + 1);
        expect(ssm.calls.map((call) => call.signed)).to.deep.equal([true, true]);
      } finally {
        delete process.env.AWS_ENDPOINT_URL_SSM;
      }
    });
  });

  describe('raw (the limit of a miss)', () => {
    let storage: TestStorage;
    before(async () => {
      storage = await startTestStorage();
    });
    after(() => storage.close());

    it('GETs and decrypts what the product encrypted, PUTs bytes back, and sees a 404 as a 404', async () => {
      const plaintext = Buffer.from('not an image, but bytes all the same '.repeat(5000));
      const { body, metadata } = encryptBuffer(plaintext, storage.masterKey);
      const client = rawS3Client(storage.server.endpoint);
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: storage.config.originalsBucket,
            Key: 'raw/one.bin',
            Body: body,
            Metadata: metadata,
          }),
        );
        const got = await rawGet(client, storage.config.originalsBucket, 'raw/one.bin');
        expect(got.body.equals(body)).to.equal(true);
        expect(rawDecrypt(got.body, got.metadata, storage.masterKey).equals(plaintext)).to.equal(true);
        // A flipped byte fails authentication: the raw decrypt checks the tag as the product does.
        const tampered = Buffer.from(got.body);
        tampered[10] = (tampered[10] ?? 0) ^ 1;
        expect(() => rawDecrypt(tampered, got.metadata, storage.masterKey)).to.throw();

        await rawPut(client, storage.config.derivativesBucket, 'raw/out.webp', Buffer.from('out'), 'image/webp');
        const back = await rawGet(client, storage.config.derivativesBucket, 'raw/out.webp');
        expect(back.body.toString()).to.equal('out');
        await raw404(client, storage.config.derivativesBucket, 'raw/absent.webp');
        const wrongly = await raw404(client, storage.config.derivativesBucket, 'raw/out.webp').then(
          () => 'resolved',
          (error: Error) => error.message,
        );
        expect(wrongly).to.match(/expected a 404/);
      } finally {
        client.destroy();
      }
    });
  });

  describe('report', () => {
    const round = (miss: number, bare: number, p99: number): RowResult => ({
      id: 1,
      title: 'row',
      lines: [
        figure('miss', miss, ms, { peerName: 'bare', peerValue: bare, target: '≤ 1.30×', check: (r) => r <= 1.3 }),
        figure('p99', p99, ms, { target: '≤ 5 ms', check: (v) => v <= 5 }),
      ],
      notes: ['n'],
      data: { miss },
    });

    it('merges rounds into medians and min–max, and a target holds only if it held in every round', () => {
      const merged = mergeRounds([round(50, 40, 3), round(60, 40, 6), round(40, 40, 4)]);
      const [miss, p99] = merged.lines;
      expect(miss?.value).to.equal(50);
      expect(miss?.ours).to.equal('50.0 ms');
      expect(miss?.spread).to.equal('40.0 ms–60.0 ms');
      expect(miss?.ratio).to.equal(1.25);
      expect(miss?.ratioSpread).to.equal('1.00×–1.50×');
      expect(miss?.pass).to.equal(false);
      expect(miss?.held).to.deep.equal({ passed: 2, rounds: 3 });
      expect(p99?.value).to.equal(4);
      expect(p99?.pass).to.equal(false);
      expect(p99?.perRound?.ours).to.deep.equal([3, 6, 4]);
      expect(merged.data).to.deep.equal({ rounds: [{ miss: 50 }, { miss: 60 }, { miss: 40 }] });
      const table = renderTable([merged]);
      expect(table).to.contain('NO (2/3)');
      expect(table).to.contain('40.0 ms–60.0 ms');
    });

    it('passes when every round passes', () => {
      const merged = mergeRounds([round(45, 40, 3), round(50, 40, 4)]);
      expect(merged.lines[0]?.pass).to.equal(true);
      expect(merged.lines[0]?.value).to.equal(47.5);
      expect(renderTable([merged])).not.to.contain('NO');
    });
  });

  it('parses butteraugli_main output', () => {
    expect(parseButteraugli('5.3218698502\n3-norm: 1.917077\n')).to.deep.equal({ max: 5.3218698502, pnorm3: 1.917077 });
    expect(() => parseButteraugli('Usage: butteraugli_main <reference> <distorted>')).to.throw(/unexpected/);
  });
});
