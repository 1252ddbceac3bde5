/**
 * A loopback stand-in for SSM Parameter Store's GetParameter and PutParameter
 * (AWS JSON 1.1, `X-Amz-Target: AmazonSSM.<Operation>`), signed requests only
 * (the SigV4 scope names `ssm`): what `rotate-master-key --stage` reads and
 * writes. `Overwrite` is required to replace a parameter, as SSM requires.
 */
import { AwsJsonError, startAwsJsonServer } from './aws-json-server.js';

export interface FakeSsm {
  endpoint: string;
  parameters: Map<string, string>;
  calls: { operation: string; name: string }[];
  close(): Promise<void>;
}

export async function startFakeSsm(initial: Record<string, string> = {}): Promise<FakeSsm> {
  const parameters = new Map(Object.entries(initial));
  const calls: FakeSsm['calls'] = [];
  const server = await startAwsJsonServer({
    service: 'ssm',
    targetPrefix: 'AmazonSSM',
    protocol: 'awsJson1_1',
    handle({ operation, body }) {
      const name = String(body.Name ?? '');
      calls.push({ operation, name });
      if (operation === 'GetParameter') {
        const value = parameters.get(name);
        if (value === undefined) throw new AwsJsonError('ParameterNotFound', '');
        return { Parameter: { Name: name, Type: 'SecureString', Value: value, Version: 1 } };
      }
      if (operation === 'PutParameter') {
        if (parameters.has(name) && body.Overwrite !== true) {
          throw new AwsJsonError('ParameterAlreadyExists', 'The parameter already exists.');
        }
        parameters.set(name, String(body.Value));
        return { Version: 2, Tier: 'Standard' };
      }
      throw new AwsJsonError('InvalidAction', operation);
    },
  });
  return { endpoint: server.endpoint, parameters, calls, close: server.close };
}
