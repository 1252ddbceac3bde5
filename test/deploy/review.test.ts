/**
 * The deployed stack's guards, on the packaged templates and
 * zips of both stages (test/deploy/stages.ts packages them once per run):
 * the API origin's origin-verify header and the packaged API refusing
 * requests without it, the SecureStrings read without a KMS grant, and the
 * backup replica's placement.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { expect } from 'chai';
import { startSsmServer } from '../../bench/lib/ssm-server.js';
import { LOCAL_CREDENTIALS } from '../../src/storage/clients.js';
import { type FunctionUrl, installRuntimeGlobal, startFunctionUrl } from './lambda-runtime.js';
import { unpack, withEnv } from './packaged.js';
import { type Cfn, deployWorkDir, ENTRY_FILE, type Packaged, packagedStages, STAGES, type Stage } from './stages.js';

const require = createRequire(import.meta.url);
/** The Fn::Sub string of the header value: the secret's ARN (Ref) inside a dynamic reference. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub syntax, not a JS template
const RESOLVE_SECRET = '{{resolve:secretsmanager:${OriginVerifySecret}:SecretString}}';

function statementsOf(template: Cfn): { owner: string; statement: Cfn }[] {
  const found: { owner: string; statement: Cfn }[] = [];
  for (const [id, resource] of Object.entries(template.Resources as Record<string, Cfn>)) {
    const policies =
      resource.Type === 'AWS::IAM::Role'
        ? (resource.Properties.Policies ?? []).map((p: Cfn) => p.PolicyDocument)
        : resource.Type === 'AWS::IAM::Policy'
          ? [resource.Properties.PolicyDocument]
          : [];
    for (const document of policies) for (const statement of document.Statement) found.push({ owner: id, statement });
  }
  return found;
}
const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

describe('deploy/review (the packaged stack)', () => {
  let packaged: Record<Stage, Packaged>;
  before(async function () {
    this.timeout(300_000);
    packaged = await packagedStages();
  });

  for (const stage of STAGES) {
    describe(`--stage ${stage}`, () => {
      let t: Cfn;
      before(() => {
        t = packaged[stage].template;
      });

      // "Add custom headers to origin requests" (CloudFront Developer Guide): identifying
      // requests from CloudFront. "Get an AWS Secrets Manager secret in an AWS CloudFormation
      // resource": a secretsmanager dynamic reference works in any resource property, while
      // ssm-secure works only in the properties "Resources that support dynamic parameter
      // patterns for secure strings" lists, and CloudFront's are not among them.
      it('adds a generated origin-verify header to the API origin only, never as plaintext in the template', () => {
        const origins = t.Resources.ImageDistribution.Properties.DistributionConfig.Origins as Cfn[];
        const api = origins.find((o) => o.Id === 'api');
        expect(api.OriginCustomHeaders).to.deep.equal([
          { HeaderName: 'X-Origin-Verify', HeaderValue: { 'Fn::Sub': RESOLVE_SECRET } },
        ]);
        for (const origin of origins.filter((o) => o.Id !== 'api')) {
          expect(origin.OriginCustomHeaders ?? [], origin.Id).to.deep.equal([]);
        }
        const secret = t.Resources.OriginVerifySecret;
        expect(secret.Type).to.equal('AWS::SecretsManager::Secret');
        expect(secret.Properties.Name).to.equal(`edge-resizer-${stage}-origin-verify`);
        expect(secret.Properties).not.to.have.property('SecretString');
        // Header-safe and long: letters and digits only, 64 of them.
        expect(secret.Properties.GenerateSecretString).to.deep.equal({
          PasswordLength: 64,
          ExcludePunctuation: true,
          IncludeSpace: false,
        });
        const mirror = t.Resources.OriginVerifyParameter;
        expect(mirror.Type).to.equal('AWS::SSM::Parameter');
        expect(mirror.Properties).to.deep.include({
          Name: `/edge-resizer/${stage}/origin-verify`,
          Type: 'String',
          Value: { 'Fn::Sub': RESOLVE_SECRET },
        });
      });

      it('lets the API role, and no other, read the origin-verify parameter', () => {
        const readers = statementsOf(t)
          .filter(({ statement }) =>
            JSON.stringify(statement.Resource).includes(`/edge-resizer/${stage}/origin-verify`),
          )
          .map(({ owner, statement }) => [owner, statement.Action]);
        expect(readers).to.deep.equal([['ApiRole', 'ssm:GetParameter']]);
        // Nobody reads the Secrets Manager secret at run time: CloudFormation resolves it at deploy.
        const secretsManager = statementsOf(t).filter(({ statement }) =>
          asArray(statement.Action).some((action: string) => action.startsWith('secretsmanager:')),
        );
        expect(secretsManager).to.deep.equal([]);
      });

      // "Restricting decryption of SecureString parameter values" (Systems Manager User Guide):
      // the AWS managed key aws/ssm grants Decrypt to every IAM principal of the account, so
      // GetParameter WithDecryption on the master key and the API token needs no kms:Decrypt
      // in the roles; a grant here would be dead weight and a reviewer's false lead.
      it('grants no KMS action: the SecureStrings use the AWS managed aws/ssm key', () => {
        const kms = statementsOf(t).filter(({ statement }) =>
          asArray(statement.Action).some((action: string) => action.startsWith('kms:')),
        );
        expect(kms).to.deep.equal([]);
        const readers = statementsOf(t).filter(({ statement }) =>
          asArray(statement.Action).includes('ssm:GetParameter'),
        );
        expect(readers.map(({ owner }) => owner).sort()).to.deep.equal(['ApiRole', 'OriginResponseRole']);
      });

      it('keeps the backup replica (prod) in the stack region, as a separate ONEZONE_IA bucket', () => {
        const replication = t.Resources.OriginalsBucket.Properties.ReplicationConfiguration['Fn::If'];
        expect(replication[0]).to.equal('BackupEnabled');
        expect(replication[1].Rules[0].Destination).to.deep.equal({
          Bucket: { 'Fn::GetAtt': ['OriginalsBackupBucket', 'Arn'] },
          StorageClass: 'ONEZONE_IA',
        });
        // A bucket of this stack lives in the stack's region: a replica in another
        // region would need a bucket made outside it (docs/deploy.md says so).
        expect(t.Resources.OriginalsBackupBucket.Condition).to.equal('BackupEnabled');
      });
    });
  }

  describe('the packaged API (dev) behind a function URL', () => {
    const ORIGIN_VERIFY = 'packaged-origin-verify-value-0123456789abcdef';
    const TOKEN = 'packaged-api-token';
    let ssm: Awaited<ReturnType<typeof startSsmServer>>;
    let functionUrl: FunctionUrl;
    let restoreGlobal: (() => void) | undefined;
    const env = () => ({
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      // Storage is never reached by these calls; an address that refuses makes sure.
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: 'packaged-review-session',
    });

    before(async function () {
      this.timeout(60_000);
      // A copy of its own: the module keeps its composition (and endpoints) per container.
      const dir = join(deployWorkDir(), 'review-api');
      await unpack((await packagedStages()).dev.zips.api.entries, dir);
      ssm = await startSsmServer(
        { '/edge-resizer/dev/api-token': TOKEN, '/edge-resizer/dev/origin-verify': ORIGIN_VERIFY },
        { credentials: LOCAL_CREDENTIALS },
      );
      restoreGlobal = installRuntimeGlobal();
      functionUrl = await startFunctionUrl((require(join(dir, ENTRY_FILE.api)) as { handler: never }).handler);
    });
    after(async () => {
      await functionUrl?.close();
      restoreGlobal?.();
      await ssm?.close();
    });

    it('refuses a call that bypasses CloudFront (no or a wrong X-Origin-Verify) with 403 forbidden, and serves one that carries it', async function () {
      this.timeout(30_000);
      await withEnv(env(), async () => {
        const bearer = { authorization: `Bearer ${TOKEN}` };
        for (const headers of [bearer, { ...bearer, 'x-origin-verify': 'guess' }]) {
          const refused = await functionUrl.invoke({ method: 'GET', url: '/api/settings', headers });
          expect(refused.status).to.equal(403);
          expect(JSON.parse(refused.body.toString())).to.deep.include({ status: 403, code: 'forbidden' });
        }
        const originals = await functionUrl.invoke({ method: 'GET', url: '/originals/anything' });
        expect(originals.status).to.equal(403);
        expect(JSON.parse(originals.body.toString())).to.deep.include({ code: 'forbidden' });

        const served = await functionUrl.invoke({
          method: 'GET',
          url: '/api/settings',
          headers: { ...bearer, 'x-origin-verify': ORIGIN_VERIFY },
        });
        expect(served.status).to.equal(200);
        expect(JSON.parse(served.body.toString())).to.have.property('maxDimension');
      });
      const names = ssm.calls.map((call) => call.name);
      expect(names).to.include('/edge-resizer/dev/origin-verify');
      expect(ssm.calls.every((call) => call.signed)).to.equal(true);
    });
  });
});
