/**
 * What the deploy tests need to run a packaged Lambda zip on this machine: the
 * zip unpacked to a directory, and a minimal SSM endpoint (the GetParameter
 * call of the JSON 1.1 protocol, over real HTTP) for the master key, since
 * s3rver has no SSM. The handlers reach both through the SDK's own
 * `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_SSM`, so the baked wiring runs
 * exactly as packaged.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import type { ZipEntry } from './zip.js';

export async function unpack(entries: ZipEntry[], directory: string): Promise<void> {
  for (const entry of entries) {
    if (entry.name.endsWith('/')) continue;
    const path = join(directory, entry.name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, entry.read());
  }
}

export interface FakeSsm {
  endpoint: string;
  /** `X-Amz-Target` and parameter name of every call, and whether it was SigV4-signed. */
  calls: { target: string; name: string; signed: boolean }[];
  close(): Promise<void>;
}

export async function startFakeSsm(parameters: Record<string, string>): Promise<FakeSsm> {
  const calls: FakeSsm['calls'] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { Name?: string };
    const name = body.Name ?? '';
    calls.push({ target, name, signed: /^AWS4-HMAC-SHA256 Credential=/.test(String(req.headers.authorization)) });
    const value = parameters[name];
    const json = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(payload));
    };
    if (target !== 'AmazonSSM.GetParameter') return json(400, { __type: 'InvalidAction', message: target });
    if (value === undefined) return json(400, { __type: 'ParameterNotFound', message: name });
    json(200, { Parameter: { Name: name, Type: 'SecureString', Value: value, Version: 1 } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Sets environment variables for the duration of `work`, then restores them. */
export async function withEnv<T>(values: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const saved = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(values)) {
    saved.set(name, process.env[name]);
    process.env[name] = value;
  }
  try {
    return await work();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
