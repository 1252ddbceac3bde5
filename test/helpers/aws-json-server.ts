/**
 * The wire part every loopback fake of an AWS JSON service shares, so that
 * the real SDK client, pointed at it with `endpoint`, speaks its own protocol
 * (awsJson1_0 or awsJson1_1): `POST /` with `Content-Type:
 * application/x-amz-json-1.<v>`, the operation in `X-Amz-Target:
 * <prefix>.<Operation>`, a Signature V4 `Authorization` whose credential
 * scope (`Credential=<key>/<date>/<region>/<service>/aws4_request`) names the
 * service and the region. One server answers every region: the region of a
 * request is the one its scope names, as the real endpoints are per region.
 * An error is its status and `{"__type", "message"}`.
 *
 * A fake supplies only `handle`: the operation's answer, or an `AwsJsonError`.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A client error of the protocol: status 400 (unless said) and its `__type`. */
export class AwsJsonError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface AwsJsonRequest {
  region: string;
  operation: string;
  body: Record<string, unknown>;
}

export interface AwsJsonServerOptions {
  /** The signing name in the credential scope: `logs`, `ssm`, `monitoring`. */
  service: string;
  /** What `X-Amz-Target` starts with, before the dot: `Logs_20140328`, `AmazonSSM`. */
  targetPrefix: string;
  protocol: 'awsJson1_0' | 'awsJson1_1';
  handle(request: AwsJsonRequest): unknown;
  /** Told of every signed request of the protocol, with the status it was answered. */
  onAnswer?(request: AwsJsonRequest, status: number): void;
}

export interface AwsJsonServer {
  endpoint: string;
  close(): Promise<void>;
}

async function read(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startAwsJsonServer(options: AwsJsonServerOptions): Promise<AwsJsonServer> {
  const contentType = options.protocol === 'awsJson1_0' ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1';
  const scope = new RegExp(`Credential=[^/]+/\\d{8}/([a-z0-9-]+)/${options.service}/aws4_request`);
  let answered = 0;

  const server = createServer((req, res) => {
    void (async () => {
      const text = await read(req);
      const target = String(req.headers['x-amz-target'] ?? '');
      const region = scope.exec(String(req.headers.authorization ?? ''))?.[1];
      let request: AwsJsonRequest | undefined;
      let status = 200;
      let answer: unknown;
      try {
        if (req.method !== 'POST' || !String(req.headers['content-type']).startsWith(contentType)) {
          throw new AwsJsonError('SerializationException', `Expected a POST of ${contentType}`);
        }
        if (!region) {
          throw new AwsJsonError('MissingAuthenticationTokenException', `Request is not signed for ${options.service}`);
        }
        if (!target.startsWith(`${options.targetPrefix}.`)) {
          throw new AwsJsonError('UnknownOperationException', `Unknown operation ${target}`);
        }
        let body: Record<string, unknown>;
        try {
          body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch {
          throw new AwsJsonError('SerializationException', 'The body is not JSON');
        }
        request = { region, operation: target.slice(options.targetPrefix.length + 1), body };
        answer = options.handle(request);
      } catch (error) {
        const failure = error instanceof AwsJsonError ? error : new AwsJsonError('InternalFailure', String(error), 500);
        status = failure.status;
        answer = { __type: failure.type, message: failure.message };
      }
      if (request) options.onAnswer?.(request, status);
      answered += 1;
      const json = JSON.stringify(answer);
      res.writeHead(status, {
        'content-type': contentType,
        'content-length': Buffer.byteLength(json),
        'x-amzn-requestid': `fake-${answered}`,
      });
      res.end(json);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
