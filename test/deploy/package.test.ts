/**
 * The packaged stacks (test/deploy/stages.ts packages dev and prod once per
 * run): assertions on the CloudFormation template and the zips it points at.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { expect } from 'chai';
import sharp from 'sharp';
import { startSsmServer } from '../../bench/lib/ssm-server.js';
import { createConfig } from '../../src/core/config.js';
import { encryptBuffer, generateMasterKeyHex, parseMasterKey } from '../../src/core/envelope.js';
import { parseDerivativeKey } from '../../src/core/keys.js';
import type { CloudFrontRequest, CloudFrontResultResponse } from '../../src/edge/cloudfront.js';
import { startS3rver } from '../../src/local/embedded-servers.js';
import { createS3Client, LOCAL_CREDENTIALS } from '../../src/storage/clients.js';
import { createS3Store } from '../../src/storage/s3-store.js';
import { originRequestEvent, originResponseEvent } from '../helpers/events.js';
import { fixture } from '../helpers/images.js';
import { withEnv } from './packaged.js';
import {
  bundle,
  type Cfn,
  deployWorkDir,
  edgeConfigFrom,
  type Packaged,
  PROD_SIGNING_SECRET,
  packagedStages,
  STAGES,
  type Stage,
  unpackedFunction,
} from './stages.js';

const require = createRequire(import.meta.url);
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_EXCEPT_HOST = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';
const ALL_METHODS = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'];
const LAMBDA_ZIP_LIMIT = 50 * 1024 * 1024;
/** How the template names this stack's distribution inside an `Fn::Sub` ARN. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not a JS template
const DISTRIBUTION_IN_SUB = 'distribution/${ImageDistribution}';
/** Environment variables of the local server and CLI: none may reach a bundle. */
const LOCAL_ONLY_ENV = ['SIGNING_SECRET', 'API_TOKEN', 'DATA_DIR', 'S3_ENDPOINT', 'DYNAMODB_ENDPOINT', 'LOG_LEVEL'];

function resourcesOfType(template: Cfn, type: string): [string, Cfn][] {
  return Object.entries(template.Resources as Record<string, Cfn>).filter(([, resource]) => resource.Type === type);
}

function asArray<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

/** Every statement of the identity policies: inline role policies and AWS::IAM::Policy. */
function identityStatements(template: Cfn): { owner: string; statement: Cfn }[] {
  const found: { owner: string; statement: Cfn }[] = [];
  for (const [id, role] of resourcesOfType(template, 'AWS::IAM::Role')) {
    for (const policy of role.Properties.Policies ?? []) {
      for (const statement of policy.PolicyDocument.Statement) found.push({ owner: id, statement });
    }
  }
  for (const [id, policy] of resourcesOfType(template, 'AWS::IAM::Policy')) {
    for (const statement of policy.Properties.PolicyDocument.Statement) {
      for (const role of policy.Properties.Roles) found.push({ owner: `${role.Ref} (${id})`, statement });
    }
  }
  return found;
}

function actionsOf(template: Cfn, roleId: string): string[] {
  return identityStatements(template)
    .filter(({ owner }) => owner === roleId || owner.startsWith(`${roleId} (`))
    .flatMap(({ statement }) => asArray(statement.Action))
    .sort();
}

describe('deploy/package (sls package, offline)', () => {
  let packaged: Record<Stage, Packaged>;
  let workDir: string;

  before(async function () {
    this.timeout(300_000);
    packaged = await packagedStages();
    workDir = deployWorkDir();
  });

  after(async () => {
    for (const stage of STAGES) {
      const p = packaged[stage];
      if (!p) continue;
      const sizes = Object.entries(p.zips).map(([name, zip]) =>
        zip.bytes < 1024 * 1024
          ? `${name} ${(zip.bytes / 1024).toFixed(1)} KB`
          : `${name} ${(zip.bytes / 1024 / 1024).toFixed(2)} MB`,
      );
      console.log(`      sls package --stage ${stage}: ${p.seconds.toFixed(1)} s; ${sizes.join(', ')}`);
    }
  });

  for (const stage of STAGES) {
    describe(`--stage ${stage}`, () => {
      let p: Packaged;
      let t: Cfn;
      let names: { originals: string; derivatives: string; backup: string; table: string; masterKey: string };
      before(() => {
        p = packaged[stage];
        t = p.template;
        names = {
          originals: `edge-resizer-${stage}-originals`,
          derivatives: `edge-resizer-${stage}-derivatives`,
          backup: `edge-resizer-${stage}-originals-backup`,
          table: `edge-resizer-${stage}-images`,
          masterKey: `/edge-resizer/${stage}/master-key`,
        };
      });

      it('writes one zip per function, each under the 50 MB Lambda limit, with linux-x64 sharp only where it is used', () => {
        for (const zip of Object.values(p.zips)) expect(zip.bytes).to.be.above(0).and.below(LAMBDA_ZIP_LIMIT);
        const responseFiles = p.zips.originResponse.entries.map((e) => e.name);
        expect(responseFiles).to.include('src/entry/origin-response.js');
        expect(responseFiles.some((f) => f.startsWith('node_modules/@img/sharp-linux-x64/'))).to.equal(true);
        expect(responseFiles.some((f) => f.startsWith('node_modules/@img/sharp-libvips-linux-x64/'))).to.equal(true);
        expect(responseFiles.filter((f) => /@img\/sharp-(?!linux-x64|libvips-linux-x64)[a-z]/.test(f))).to.deep.equal(
          [],
        );
        const requestFiles = p.zips.originRequest.entries.map((e) => e.name);
        expect(requestFiles).to.include('src/entry/origin-request.js');
        expect(requestFiles.some((f) => f.startsWith('node_modules/'))).to.equal(false);
        expect(p.zips.api.entries.map((e) => e.name)).to.include('src/entry/api.js');
      });

      it("bakes the stage's names into the edge bundles and reads none of the local environment variables", () => {
        const bundles = [
          bundle(p.zips.originRequest.entries, 'src/entry/origin-request.js'),
          bundle(p.zips.originResponse.entries, 'src/entry/origin-response.js'),
        ];
        for (const code of bundles) {
          expect(code).not.to.include('__EDGE_RESIZER_CONFIG__');
          for (const name of LOCAL_ONLY_ENV) expect(code).not.to.match(new RegExp(`\\b${name}\\b`));
        }
        // The origin-response bundle uses every name; the define is the same for all three.
        for (const value of [names.originals, names.derivatives, names.table, names.masterKey]) {
          expect(bundles[1]).to.include(JSON.stringify(value));
        }
      });

      it('bakes a config whose fields are all EdgeResizerConfigInput fields', () => {
        const baked = edgeConfigFrom(p.state.service.custom.edgeConfig);
        const config = createConfig(baked);
        expect(config).to.include({
          stage,
          region: 'us-east-1',
          originalsBucket: names.originals,
          derivativesBucket: names.derivatives,
          metadataTable: names.table,
        });
        expect(config.masterKey).to.deep.equal({ type: 'ssm', parameterName: names.masterKey, region: 'us-east-1' });
        expect(config.signing.secret).to.equal(stage === 'prod' ? PROD_SIGNING_SECRET : undefined);
      });

      it('gives the edge functions no environment, x86_64, Lambda@Edge-sized memory and timeouts, and their own roles', () => {
        const request = t.Resources.OriginRequestLambdaFunction.Properties;
        const response = t.Resources.OriginResponseLambdaFunction.Properties;
        for (const fn of [request, response]) {
          expect(fn).not.to.have.property('Environment');
          expect(fn.Architectures ?? ['x86_64']).to.deep.equal(['x86_64']);
          expect(fn.Runtime).to.equal('nodejs24.x');
          expect(fn).not.to.have.property('Layers');
        }
        expect(request.MemorySize).to.be.within(128, 256);
        expect(request.Timeout).to.equal(5);
        expect(response.MemorySize).to.be.at.least(1536);
        expect(response.Timeout).to.equal(30);
        expect(request.Role).to.deep.equal({ 'Fn::GetAtt': ['OriginRequestRole', 'Arn'] });
        expect(response.Role).to.deep.equal({ 'Fn::GetAtt': ['OriginResponseRole', 'Arn'] });
        expect(t.Resources).not.to.have.property('IamRoleLambdaExecution');
        for (const role of ['OriginRequestRole', 'OriginResponseRole']) {
          const trust = t.Resources[role].Properties.AssumeRolePolicyDocument.Statement[0];
          expect(trust.Principal.Service).to.have.members(['lambda.amazonaws.com', 'edgelambda.amazonaws.com']);
        }
      });

      it('associates origin-request and origin-response by numbered version, and the viewer function, on the default behaviour', () => {
        const behaviour = t.Resources.ImageDistribution.Properties.DistributionConfig.DefaultCacheBehavior;
        const associations = behaviour.LambdaFunctionAssociations as Cfn[];
        expect(associations.map((a) => a.EventType)).to.have.members(['origin-request', 'origin-response']);
        for (const association of associations) {
          const version = t.Resources[association.LambdaFunctionARN.Ref];
          expect(version.Type).to.equal('AWS::Lambda::Version');
          const fn =
            association.EventType === 'origin-request' ? 'OriginRequestLambdaFunction' : 'OriginResponseLambdaFunction';
          expect(version.Properties.FunctionName).to.deep.equal({ Ref: fn });
        }
        expect(behaviour.FunctionAssociations).to.deep.equal([
          {
            EventType: 'viewer-request',
            FunctionARN: { 'Fn::GetAtt': ['ViewerRequestFunction', 'FunctionMetadata.FunctionARN'] },
          },
        ]);
      });

      it('keys the image cache on the query the viewer function leaves (image parameters only) and Accept, without cookies or compression, and forwards the viewer location', () => {
        const config = t.Resources.ImageCachePolicy.Properties.CachePolicyConfig;
        const key = config.ParametersInCacheKeyAndForwardedToOrigin;
        // 17 image parameters exceed a policy's 10 names: all query strings, safe because the
        // viewer function drops every other parameter (test/edge/viewer-request.test.ts).
        expect(key.QueryStringsConfig).to.deep.equal({ QueryStringBehavior: 'all' });
        expect(key.HeadersConfig).to.deep.equal({ HeaderBehavior: 'whitelist', Headers: ['Accept'] });
        expect(key.CookiesConfig).to.deep.equal({ CookieBehavior: 'none' });
        expect(key.EnableAcceptEncodingGzip).to.equal(false);
        expect(key.EnableAcceptEncodingBrotli).to.equal(false);
        expect(config.MinTTL).to.equal(0);
        const behaviour = t.Resources.ImageDistribution.Properties.DistributionConfig.DefaultCacheBehavior;
        expect(behaviour.CachePolicyId).to.deep.equal({ Ref: 'ImageCachePolicy' });
        // The viewer location for the 302 reaches the triggers without entering the cache key.
        expect(behaviour.OriginRequestPolicyId).to.deep.equal({ Ref: 'ImageOriginRequestPolicy' });
        const forwarded = t.Resources.ImageOriginRequestPolicy.Properties.OriginRequestPolicyConfig;
        expect(forwarded.HeadersConfig).to.deep.equal({ HeaderBehavior: 'whitelist', Headers: ['X-Resizer-Location'] });
        expect(forwarded.CookiesConfig).to.deep.equal({ CookieBehavior: 'none' });
        expect(forwarded.QueryStringsConfig).to.deep.equal({ QueryStringBehavior: 'none' });
        expect(behaviour.TargetOriginId).to.equal('derivatives');
      });

      it('configures the distribution: HTTP/2 and 3, IPv6, TLS 1.2 on a custom domain, playground root, API behaviours', () => {
        const d = t.Resources.ImageDistribution.Properties.DistributionConfig;
        expect(d).to.include({
          Enabled: true,
          HttpVersion: 'http2and3',
          IPV6Enabled: true,
          DefaultRootObject: '_playground/index.html',
        });
        expect(d.PriceClass).to.equal(stage === 'prod' ? 'PriceClass_All' : 'PriceClass_100');
        const [condition, custom, fallback] = d.ViewerCertificate['Fn::If'];
        expect(condition).to.equal('HasCustomDomain');
        expect(custom).to.deep.equal({
          AcmCertificateArn: { Ref: 'CertificateArn' },
          SslSupportMethod: 'sni-only',
          MinimumProtocolVersion: 'TLSv1.2_2021',
        });
        expect(fallback).to.deep.equal({ CloudFrontDefaultCertificate: true });
        expect(d.Aliases['Fn::If'][0]).to.equal('HasCustomDomain');
        expect(t.Parameters.DomainName.Default).to.equal('');
        expect(t.Parameters.CertificateArn.Default).to.equal('');

        const s3 = d.Origins.find((o: Cfn) => o.Id === 'derivatives');
        expect(s3.DomainName).to.deep.equal({ 'Fn::GetAtt': ['DerivativesBucket', 'RegionalDomainName'] });
        expect(s3.OriginAccessControlId).to.deep.equal({ 'Fn::GetAtt': ['DerivativesOriginAccessControl', 'Id'] });
        const api = d.Origins.find((o: Cfn) => o.Id === 'api');
        expect(JSON.stringify(api.DomainName)).to.include('ApiLambdaFunctionUrl');
        expect(api.CustomOriginConfig.OriginProtocolPolicy).to.equal('https-only');

        for (const path of ['/api/*', '/originals/*']) {
          const behaviour = d.CacheBehaviors.find((b: Cfn) => b.PathPattern === path);
          expect(behaviour, path).to.include({
            TargetOriginId: 'api',
            CachePolicyId: CACHING_DISABLED,
            OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST,
          });
          expect(behaviour.AllowedMethods).to.have.members(ALL_METHODS);
          expect(behaviour).not.to.have.property('LambdaFunctionAssociations');
          expect(behaviour).not.to.have.property('FunctionAssociations');
        }
        const playground = d.CacheBehaviors.find((b: Cfn) => b.PathPattern === '/_playground/*');
        expect(playground.TargetOriginId).to.equal('derivatives');
        expect(playground).not.to.have.property('LambdaFunctionAssociations');
      });

      it('keeps the derivatives bucket private to this distribution, SSE-S3, with expiring derivatives but a lasting playground', () => {
        const bucket = t.Resources.DerivativesBucket.Properties;
        expect(bucket.BucketName).to.equal(names.derivatives);
        expectPrivateBucket(bucket);
        expect(
          bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault,
        ).to.deep.equal({ SSEAlgorithm: 'AES256' });
        const rules = bucket.LifecycleConfiguration.Rules as Cfn[];
        const expiring = rules.filter((r) => r.ExpirationInDays);
        const days = stage === 'prod' ? 90 : 30;
        expect(expiring.every((r) => r.ExpirationInDays === days && r.Prefix.length === 1)).to.equal(true);
        const firstChars = expiring.map((r) => r.Prefix).join('');
        for (const key of ['photos/cat.jpg', 'Z.png', '9/a.webp', '.hidden/x.jpg', '-x.jpg'])
          expect(firstChars).to.include(key[0]);
        expect(firstChars).not.to.include('_');

        const policy = t.Resources.DerivativesBucketPolicy.Properties.PolicyDocument.Statement as Cfn[];
        const allows = policy.filter((s) => s.Effect === 'Allow');
        expect(allows).to.have.length(1);
        expect(allows[0].Principal).to.deep.equal({ Service: 'cloudfront.amazonaws.com' });
        expect(allows[0].Action).to.equal('s3:GetObject');
        expect(allows[0].Resource).to.equal(`arn:aws:s3:::${names.derivatives}/*`);
        expect(JSON.stringify(allows[0].Condition.StringEquals['AWS:SourceArn'])).to.include(DISTRIBUTION_IN_SUB);
        const oac = t.Resources.DerivativesOriginAccessControl.Properties.OriginAccessControlConfig;
        expect(oac).to.include({
          OriginAccessControlOriginType: 's3',
          SigningBehavior: 'always',
          SigningProtocol: 'sigv4',
        });
      });

      it('versions the originals, expires old versions after 6 days, and replicates to ONEZONE_IA behind BackupEnabled', () => {
        const bucket = t.Resources.OriginalsBucket.Properties;
        expect(bucket.BucketName).to.equal(names.originals);
        expect(bucket.VersioningConfiguration).to.deep.equal({ Status: 'Enabled' });
        expectPrivateBucket(bucket);
        const noncurrent = bucket.LifecycleConfiguration.Rules.find((r: Cfn) => r.NoncurrentVersionExpiration);
        expect(noncurrent.NoncurrentVersionExpiration).to.deep.equal({ NoncurrentDays: 6 });
        const [condition, replication, none] = bucket.ReplicationConfiguration['Fn::If'];
        expect(condition).to.equal('BackupEnabled');
        expect(none).to.deep.equal({ Ref: 'AWS::NoValue' });
        expect(replication.Rules[0].Destination).to.deep.equal({
          Bucket: { 'Fn::GetAtt': ['OriginalsBackupBucket', 'Arn'] },
          StorageClass: 'ONEZONE_IA',
        });
        for (const id of ['OriginalsBackupBucket', 'OriginalsReplicationRole'])
          expect(t.Resources[id].Condition).to.equal('BackupEnabled');
        expect(t.Resources.OriginalsBackupBucket.Properties.VersioningConfiguration).to.deep.equal({
          Status: 'Enabled',
        });
        expect(t.Conditions.BackupEnabled).to.deep.equal({
          'Fn::Equals': [stage === 'prod' ? 'true' : 'false', 'true'],
        });
      });

      it('creates the metadata table on demand, keyed by key and version, with point-in-time recovery in prod only', () => {
        const table = t.Resources.MetadataTable.Properties;
        expect(table.TableName).to.equal(names.table);
        expect(table.BillingMode).to.equal('PAY_PER_REQUEST');
        expect(table.KeySchema).to.deep.equal([
          { AttributeName: 'key', KeyType: 'HASH' },
          { AttributeName: 'version', KeyType: 'RANGE' },
        ]);
        expect(table.AttributeDefinitions).to.deep.equal([
          { AttributeName: 'key', AttributeType: 'S' },
          { AttributeName: 'version', AttributeType: 'N' },
        ]);
        expect(table.PointInTimeRecoverySpecification).to.deep.equal({ PointInTimeRecoveryEnabled: stage === 'prod' });
      });

      it("publishes the viewer-request function (cloudfront-js-2.0) with the stage's settings, as valid JS under 10 KB", () => {
        const fn = t.Resources.ViewerRequestFunction.Properties;
        expect(fn.AutoPublish).to.equal(true);
        expect(fn.FunctionConfig.Runtime).to.equal('cloudfront-js-2.0');
        const code = fn.FunctionCode as string;
        expect(Buffer.byteLength(code)).to.be.below(10 * 1024);
        expect(code).not.to.include('__VIEWER_CONFIG__');
        // Signing keys by `kid` from the associated KeyValueStore: an ES module.
        expect(code).to.match(/^import cfCrypto from 'crypto';\nimport cf from 'cloudfront';/);
        expect(code).to.include('cf.kvs()');
        expect(fn.FunctionConfig.KeyValueStoreAssociations).to.deep.equal([
          { KeyValueStoreARN: { 'Fn::GetAtt': ['SigningKeyStore', 'Arn'] } },
        ]);
        // Valid JS: the module's two imports as a script's requires (as src/local/viewer-function.ts runs it).
        const script = code.replace(/^import (\w+) from '(\w+)';$/gm, "var $1 = require('$2');");
        expect(script).not.to.include('import ');
        expect(() => new Script(script)).not.to.throw();
        console.log(`      packaged viewer function (${stage}): ${Buffer.byteLength(code)} bytes of ${10 * 1024}`);
        // The bundle bakes the stage's settings as an object literal (src/edge/viewer/build.ts), names minified.
        if (stage === 'prod') {
          expect(code).to.include(JSON.stringify(PROD_SIGNING_SECRET)).and.include('"snap"');
          expect(code).to.include('[64,128,256,320,480,640,750,828,1080,1200,1920,2048,3840]');
        } else {
          expect(code)
            .to.include('"reject"')
            .and.match(/:null[,}]/);
        }
      });

      it('streams the API through a function URL invokable by anyone (the API checks its own token)', () => {
        const fn = t.Resources.ApiLambdaFunction.Properties;
        expect(fn).to.include({ MemorySize: 1024, Timeout: 120 });
        expect(fn.Role).to.deep.equal({ 'Fn::GetAtt': ['ApiRole', 'Arn'] });
        expect(t.Resources.ApiLambdaFunctionUrl.Properties).to.include({
          AuthType: 'NONE',
          InvokeMode: 'RESPONSE_STREAM',
        });
        const permissions = resourcesOfType(t, 'AWS::Lambda::Permission').map(([, r]) => r.Properties);
        expect(permissions.map((r) => r.Action)).to.have.members(['lambda:InvokeFunctionUrl', 'lambda:InvokeFunction']);
        expect(permissions.find((r) => r.Action === 'lambda:InvokeFunction').InvokedViaFunctionUrl).to.equal(true);
      });

      it('scopes every S3, DynamoDB and SSM permission to this stage’s resources', () => {
        const statements = identityStatements(t);
        expect(statements.length).to.be.above(5);
        for (const { owner, statement } of statements) {
          expect(statement.Effect, owner).to.equal('Allow');
          const actions = asArray(statement.Action) as string[];
          const resources = asArray(statement.Resource).map((r) => JSON.stringify(r));
          for (const action of actions) expect(action, owner).not.to.match(/(^\*$|:\*$)/);
          expect(resources, owner).not.to.include('"*"');
          if (actions.some((a) => a.startsWith('s3:'))) {
            for (const r of resources)
              expect(r, `${owner} ${r}`).to.match(new RegExp(`arn:aws:s3:::edge-resizer-${stage}-`));
          }
          if (actions.some((a) => a.startsWith('dynamodb:'))) {
            expect(resources, owner).to.deep.equal([JSON.stringify({ 'Fn::GetAtt': ['MetadataTable', 'Arn'] })]);
          }
          if (actions.some((a) => a.startsWith('ssm:'))) {
            for (const r of resources) expect(r, owner).to.include(`:parameter/edge-resizer/${stage}/`);
          }
        }
      });

      it('gives each function only what its handler does', () => {
        expect(actionsOf(t, 'OriginRequestRole')).to.deep.equal([
          'logs:CreateLogGroup',
          'logs:CreateLogStream',
          'logs:PutLogEvents',
        ]);
        expect(actionsOf(t, 'OriginResponseRole').filter((a) => !a.startsWith('logs:'))).to.deep.equal([
          's3:DeleteObject',
          's3:GetObject',
          's3:GetObject',
          's3:PutObject',
          'ssm:GetParameter',
        ]);
        const response = identityStatements(t).filter(({ owner }) => owner === 'OriginResponseRole');
        const ssm = response.find(({ statement }) => statement.Action === 'ssm:GetParameter');
        expect(JSON.stringify(ssm?.statement.Resource)).to.include(`:parameter${names.masterKey}`);
        const put = response.find(({ statement }) => asArray(statement.Action).includes('s3:PutObject'));
        expect(put?.statement.Resource).to.equal(`arn:aws:s3:::${names.derivatives}/*`);
        expect(actionsOf(t, 'ApiRole').filter((a) => !a.startsWith('logs:'))).to.have.members([
          's3:GetObject',
          's3:PutObject',
          's3:DeleteObject',
          's3:ListBucket',
          // The staging bucket's statement (below).
          's3:PutObject',
          's3:GetObject',
          's3:DeleteObject',
          's3:AbortMultipartUpload',
          's3:ListMultipartUploadParts',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:Query',
          'dynamodb:Scan',
          'dynamodb:BatchWriteItem',
          'ssm:GetParameter',
          'cloudfront:CreateInvalidation',
        ]);
        const invalidation = t.Resources.ApiInvalidationPolicy.Properties.PolicyDocument.Statement[0];
        expect(JSON.stringify(invalidation.Resource)).to.include(DISTRIBUTION_IN_SUB);
      });

      it('keeps staged uploads in a private SSE bucket that forgets objects and incomplete uploads after a day', () => {
        const bucket = t.Resources.StagingBucket.Properties;
        expect(bucket.BucketName).to.equal(`edge-resizer-${stage}-staging`);
        expectPrivateBucket(bucket);
        expect(
          bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault,
        ).to.deep.equal({ SSEAlgorithm: 'AES256' });
        const rules = (bucket.LifecycleConfiguration.Rules as Cfn[]).filter((r) => r.Status === 'Enabled');
        expect(rules.some((r) => r.ExpirationInDays === 1 && r.Prefix === '')).to.equal(true);
        expect(rules.some((r) => r.AbortIncompleteMultipartUpload?.DaysAfterInitiation === 1)).to.equal(true);
        // No bucket policy opens it: only the API role's statements reach it.
        const policies = resourcesOfType(t, 'AWS::S3::BucketPolicy').map(([, r]) => JSON.stringify(r.Properties));
        expect(policies.filter((p) => p.includes('StagingBucket') || p.includes('-staging'))).to.deep.equal([]);
        expect(bucket.CorsConfiguration.CorsRules[0]).to.include.keys('AllowedMethods', 'ExposedHeaders');
        expect(bucket.CorsConfiguration.CorsRules[0].AllowedMethods).to.deep.equal(['PUT']);
      });

      it('lets the API presign and put parts, read, delete and abort in staging, and no other role touch it', () => {
        const staging = identityStatements(t).filter(({ statement }) =>
          asArray(statement.Resource).some((r) => JSON.stringify(r).includes(`edge-resizer-${stage}-staging`)),
        );
        expect(staging.map(({ owner }) => owner)).to.deep.equal(['ApiRole']);
        expect(asArray(staging[0]?.statement.Action).sort()).to.deep.equal([
          's3:AbortMultipartUpload',
          's3:DeleteObject',
          's3:GetObject',
          's3:ListMultipartUploadParts',
          's3:PutObject',
        ]);
        expect(staging[0]?.statement.Resource).to.equal(`arn:aws:s3:::edge-resizer-${stage}-staging/*`);
        expect(t.Resources.OriginalsBucket.Properties.BucketName).not.to.include('staging');
      });

      it('associates a KeyValueStore of signing keys with the viewer function and outputs its ARN', () => {
        const store = t.Resources.SigningKeyStore;
        expect(store.Type).to.equal('AWS::CloudFront::KeyValueStore');
        expect(store.Properties.Name).to.equal(`edge-resizer-${stage}-signing-keys`);
        expect(t.Resources.ViewerRequestFunction.Properties.FunctionConfig.KeyValueStoreAssociations).to.deep.equal([
          { KeyValueStoreARN: { 'Fn::GetAtt': ['SigningKeyStore', 'Arn'] } },
        ]);
        expect(t.Outputs.SigningKeyStoreArn.Value).to.deep.equal({ 'Fn::GetAtt': ['SigningKeyStore', 'Arn'] });
        expect(t.Outputs.StagingBucketName.Value).to.deep.equal({ Ref: 'StagingBucket' });
      });

      it('outputs the distribution domain, API URL, bucket and table names', () => {
        for (const name of [
          'DistributionDomainName',
          'ApiUrl',
          'OriginalsBucketName',
          'DerivativesBucketName',
          'MetadataTableName',
        ]) {
          expect(t.Outputs, name).to.have.property(name);
        }
      });
    });
  }

  describe('the packaged edge handlers, called with the event fixtures (dev)', () => {
    const dirs = {} as Record<'originRequest' | 'originResponse', string>;
    const loadHandler = (name: 'originRequest' | 'originResponse', file: string) => {
      const started = performance.now();
      const module = require(join(dirs[name], file)) as { handler: (event: unknown) => Promise<unknown> };
      loadMs[name] = performance.now() - started;
      return module.handler;
    };
    const loadMs: Record<string, number> = {};

    before(async function () {
      this.timeout(60_000);
      for (const name of ['originRequest', 'originResponse'] as const) dirs[name] = await unpackedFunction('dev', name);
    });
    after(() => {
      const sizes = (['originRequest', 'originResponse'] as const).map((name) => {
        const file = name === 'originRequest' ? 'src/entry/origin-request.js' : 'src/entry/origin-response.js';
        const js = packaged.dev.zips[name].entries.find((e) => e.name === file);
        return `${name} ${((js?.size ?? 0) / 1024).toFixed(1)} KB JS, loaded in ${(loadMs[name] ?? 0).toFixed(0)} ms`;
      });
      console.log(`      figure: ${sizes.join('; ')}`);
    });

    it('carries only the S3 commands the miss uses, no SSM client (one signed request), and no default credential chain', () => {
      const code = bundle(packaged.dev.zips.originResponse.entries, 'src/entry/origin-response.js');
      const commands = [...new Set(code.match(/"[A-Z][A-Za-z0-9]+Command"/g) ?? [])].map((c) => c.slice(1, -1)).sort();
      // CreateSession and HeadBucket are the S3 client's own (S3 Express sessions), never called for our buckets.
      expect(commands).to.deep.equal([
        'CreateSessionCommand',
        'DeleteObjectCommand',
        'GetObjectCommand',
        'HeadBucketCommand',
        'HeadObjectCommand',
        'PutObjectCommand',
      ]);
      // The master key is read by src/storage/ssm-parameter.ts, not @aws-sdk/client-ssm.
      expect(code).to.include('AmazonSSM.GetParameter');
      for (const code of [
        bundle(packaged.dev.zips.originResponse.entries, 'src/entry/origin-response.js'),
        bundle(packaged.dev.zips.api.entries, 'src/entry/api.js'),
      ]) {
        for (const name of ['SSMClient', 'GetParameterCommand', 'ParameterNotFound', 'client-ssm']) {
          expect(code, name).not.to.include(name);
        }
      }
      for (const code of [
        bundle(packaged.dev.zips.originResponse.entries, 'src/entry/origin-response.js'),
        bundle(packaged.dev.zips.api.entries, 'src/entry/api.js'),
      ]) {
        for (const name of ['fromSSO', 'AssumeRoleWithWebIdentity', 'GetRoleCredentials', 'fromInstanceMetadata']) {
          expect(code, name).not.to.include(name);
        }
      }
      // The signing secret is the viewer function's alone (prod is packaged with one).
      for (const name of ['originRequest', 'originResponse', 'api'] as const) {
        for (const entry of packaged.prod.zips[name].entries.filter((e) => e.name.startsWith('src/'))) {
          expect(entry.read().toString('utf8'), `${name} ${entry.name}`).not.to.include(PROD_SIGNING_SECRET);
        }
      }
    });

    it('origin-request turns the image URL into the derivative key, origin-response renders and stores it against s3rver', async function () {
      this.timeout(60_000);
      const config = createConfig(edgeConfigFrom(packaged.dev.state.service.custom.edgeConfig));
      const s3 = await startS3rver({
        directory: join(workDir, 's3rver'),
        buckets: [config.originalsBucket, config.derivativesBucket],
      });
      const keyHex = generateMasterKeyHex();
      // It checks the signature with the secret below, as SSM would.
      const ssm = await startSsmServer({ '/edge-resizer/dev/master-key': keyHex }, { credentials: LOCAL_CREDENTIALS });
      const client = createS3Client({
        region: 'us-east-1',
        endpoint: s3.endpoint,
        credentials: LOCAL_CREDENTIALS,
        timeoutMs: 5000,
        maxAttempts: 2,
      });
      const store = createS3Store({
        client,
        originalsBucket: config.originalsBucket,
        derivativesBucket: config.derivativesBucket,
      });
      try {
        const { body, metadata } = encryptBuffer(fixture('photos/fig.jpg'), parseMasterKey(keyHex));
        await store.putOriginal('photos/fig.jpg', body, metadata, body.length);
        const env = {
          AWS_ENDPOINT_URL_S3: s3.endpoint,
          AWS_ENDPOINT_URL_SSM: ssm.endpoint,
          // What Lambda sets; s3rver knows this one access key only.
          AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
          AWS_SESSION_TOKEN: 'packaged-test-session',
        };
        await withEnv(env, async () => {
          const originRequest = loadHandler('originRequest', 'src/entry/origin-request.js');
          const forwarded = (await originRequest(
            originRequestEvent({ uri: '/photos/fig.jpg', querystring: 'width=120', accept: 'image/webp' }),
          )) as CloudFrontRequest;
          const target = parseDerivativeKey(forwarded.uri.slice(1));
          expect(target?.key).to.equal('photos/fig.jpg');
          expect(target?.variant.width).to.equal(120);

          const originResponse = loadHandler('originResponse', 'src/entry/origin-response.js');
          const result = (await originResponse(originResponseEvent(forwarded, 403))) as CloudFrontResultResponse;
          expect(result.status, result.body).to.equal('200');
          const image = Buffer.from(result.body ?? '', 'base64');
          const info = await sharp(image).metadata();
          expect(info.width).to.equal(120);
          expect(result.headers?.['content-type']?.[0]?.value).to.equal(`image/${info.format}`);
          const stored = await store.getDerivative(forwarded.uri.slice(1));
          expect(stored?.body.equals(image)).to.equal(true);

          // A missing original: 404 from the packaged handler, nothing stored.
          const missing = (await originRequest(
            originRequestEvent({ uri: '/photos/none.jpg', querystring: 'width=120', accept: 'image/webp' }),
          )) as CloudFrontRequest;
          const notFound = (await originResponse(originResponseEvent(missing, 403))) as CloudFrontResultResponse;
          expect(notFound.status).to.equal('404');
        });
        expect(ssm.calls).to.deep.equal([
          {
            target: 'AmazonSSM.GetParameter',
            name: '/edge-resizer/dev/master-key',
            withDecryption: true,
            signed: true,
            accessKeyId: LOCAL_CREDENTIALS.accessKeyId,
            sessionToken: 'packaged-test-session',
            answer: 200,
          },
        ]);
      } finally {
        client.destroy();
        await ssm.close();
        await s3.close();
      }
    });
  });

  it('names every stage-owned resource differently in dev and prod', () => {
    const named = (template: Cfn) =>
      Object.values(template.Resources as Record<string, Cfn>)
        .map(
          (r) =>
            r.Properties?.BucketName ?? r.Properties?.TableName ?? r.Properties?.FunctionName ?? r.Properties?.Name,
        )
        .filter((name): name is string => typeof name === 'string');
    const dev = named(packaged.dev.template);
    const prod = named(packaged.prod.template);
    expect(dev.length).to.be.above(8);
    expect(dev.filter((name) => prod.includes(name))).to.deep.equal([]);
  });
});

/** All public access blocked and ACLs off (bucket owner enforced). */
function expectPrivateBucket(bucket: Cfn): void {
  expect(bucket.PublicAccessBlockConfiguration).to.deep.equal({
    BlockPublicAcls: true,
    BlockPublicPolicy: true,
    IgnorePublicAcls: true,
    RestrictPublicBuckets: true,
  });
  expect(bucket.OwnershipControls).to.deep.equal({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
}
