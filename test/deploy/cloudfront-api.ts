/**
 * A loopback stand-in for the one CloudFront API call the API function makes,
 * `CreateInvalidation` (REST-XML, `POST /2020-05-31/distribution/<id>/invalidation`),
 * answered as CloudFront answers it (201, `Location`, the `Invalidation` XML).
 * The packaged function reaches it through the SDK's `AWS_ENDPOINT_URL_CLOUDFRONT`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface InvalidationCall {
  distributionId: string;
  paths: string[];
  callerReference: string;
  /** The request carried a SigV4 `Authorization` with this access key. */
  accessKeyId?: string;
}

export interface FakeCloudFront {
  endpoint: string;
  invalidations: InvalidationCall[];
  close(): Promise<void>;
}

export async function startFakeCloudFront(): Promise<FakeCloudFront> {
  const invalidations: InvalidationCall[] = [];
  let next = 1;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const match = /^\/2020-05-31\/distribution\/([A-Z0-9]+)\/invalidation$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !match) {
        res
          .writeHead(404, { 'content-type': 'text/xml' })
          .end('<ErrorResponse><Error><Code>NoSuchResource</Code></Error></ErrorResponse>');
        return;
      }
      const xml = Buffer.concat(chunks).toString('utf8');
      const paths = [...xml.matchAll(/<Path>([^<]*)<\/Path>/g)].map((m) => m[1] ?? '');
      const callerReference = /<CallerReference>([^<]*)<\/CallerReference>/.exec(xml)?.[1] ?? '';
      const accessKeyId = /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
      invalidations.push({ distributionId: match[1] ?? '', paths, callerReference, accessKeyId });
      const id = `I${String(next++).padStart(13, '0')}`;
      const items = paths.map((path) => `<Path>${path}</Path>`).join('');
      res
        .writeHead(201, {
          'content-type': 'text/xml',
          location: `https://cloudfront.amazonaws.com/2020-05-31/distribution/${match[1]}/invalidation/${id}`,
        })
        .end(
          `<?xml version="1.0" encoding="UTF-8"?>\n<Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>${id}</Id><Status>InProgress</Status><CreateTime>${new Date().toISOString()}</CreateTime><InvalidationBatch><Paths><Quantity>${paths.length}</Quantity><Items>${items}</Items></Paths><CallerReference>${callerReference}</CallerReference></InvalidationBatch></Invalidation>`,
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    invalidations,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
