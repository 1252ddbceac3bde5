/**
 * A loopback stand-in for AWS Systems Manager, speaking the one call the edge
 * bundles make: `GetParameter` over SSM's JSON protocol (POST /,
 * `X-Amz-Target: AmazonSSM.GetParameter`, `application/x-amz-json-1.1`). The
 * cold-start row points the bundled handler at it through the SDK's
 * `AWS_ENDPOINT_URL_SSM`, so the master key is read as deployed, not inline.
 * Signatures are not checked; requests are counted so the row can tell the key
 * really came from here.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SsmServer {
  endpoint: string;
  /** GetParameter calls answered with a value. */
  reads(): number;
  close(): Promise<void>;
}

export async function startSsmServer(parameters: Record<string, string>): Promise<SsmServer> {
  let reads = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(status, {
          'content-type': 'application/x-amz-json-1.1',
          'content-length': Buffer.byteLength(text),
          'x-amzn-requestid': `bench-${reads}`,
        });
        res.end(text);
      };
      const target = String(req.headers['x-amz-target'] ?? '');
      if (req.method !== 'POST' || target !== 'AmazonSSM.GetParameter') {
        answer(400, { __type: 'InvalidAction', message: `unsupported action ${target || req.method}` });
        return;
      }
      let name = '';
      try {
        name = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Name?: string }).Name ?? '');
      } catch {
        answer(400, { __type: 'SerializationException', message: 'bad JSON' });
        return;
      }
      const value = parameters[name];
      if (value === undefined) {
        answer(400, { __type: 'ParameterNotFound', message: `Parameter ${name} not found.` });
        return;
      }
      reads += 1;
      answer(200, {
        Parameter: {
          Name: name,
          Type: 'SecureString',
          Value: value,
          Version: 1,
          LastModifiedDate: Math.floor(Date.now() / 1000),
          ARN: `arn:aws:ssm:us-east-1:000000000000:parameter${name.startsWith('/') ? '' : '/'}${name}`,
          DataType: 'text',
        },
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    reads: () => reads,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
