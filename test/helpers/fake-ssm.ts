/**
 * A loopback stand-in for SSM Parameter Store's GetParameter and PutParameter
 * (AWS JSON 1.1, `X-Amz-Target: AmazonSSM.<Operation>`), signed requests only
 * (the SigV4 scope names `ssm`): what `rotate-master-key --stage` reads and
 * writes. `Overwrite` is required to replace a parameter, as SSM requires.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeSsm {
  endpoint: string;
  parameters: Map<string, string>;
  calls: { operation: string; name: string }[];
  close(): Promise<void>;
}

export async function startFakeSsm(initial: Record<string, string> = {}): Promise<FakeSsm> {
  const parameters = new Map(Object.entries(initial));
  const calls: FakeSsm['calls'] = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(payload));
    };
    const target = String(req.headers['x-amz-target'] ?? '');
    if (!/Credential=[^/]+\/\d{8}\/[a-z0-9-]+\/ssm\/aws4_request/.test(String(req.headers.authorization))) {
      return send(400, { __type: 'InvalidSignatureException', message: 'unsigned' });
    }
    const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    const name = String(input.Name ?? '');
    calls.push({ operation: target.replace('AmazonSSM.', ''), name });
    if (target === 'AmazonSSM.GetParameter') {
      const value = parameters.get(name);
      if (value === undefined) return send(400, { __type: 'ParameterNotFound', message: '' });
      return send(200, { Parameter: { Name: name, Type: 'SecureString', Value: value, Version: 1 } });
    }
    if (target === 'AmazonSSM.PutParameter') {
      if (parameters.has(name) && input.Overwrite !== true)
        return send(400, { __type: 'ParameterAlreadyExists', message: 'The parameter already exists.' });
      parameters.set(name, String(input.Value));
      return send(200, { Version: 2, Tier: 'Standard' });
    }
    return send(400, { __type: 'InvalidAction', message: target });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    parameters,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
