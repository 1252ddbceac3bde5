/** `serve --config FILE` and `sls package` judge a stage's settings by the same schema and the same preset rules. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadStageConfig } from '../../src/cli/stage-config.js';

const require = createRequire(import.meta.url);
const { edgeConfigFrom } = require('../../esbuild.config.cjs') as {
  edgeConfigFrom: (input: unknown, stageBlock?: unknown, stage?: string) => Record<string, unknown>;
};

describe('serve --config and sls package: one stage schema', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-stage-config-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const load = async (settings: unknown) => {
    const file = join(dir, 'stage.json');
    await writeFile(file, JSON.stringify(settings));
    return loadStageConfig(file);
  };

  it('takes presets under presetPolicy only (a preset names parameters; the policy limits URLs)', async () => {
    const settings = { presets: { card: 'width=640&height=360' }, presetPolicy: 'only', defaultPreset: 'card' };
    expect(await load(settings)).to.deep.include({ presetPolicy: 'only', defaultPreset: 'card' });
    expect(edgeConfigFrom({}, settings, 'dev')).to.deep.include({ presetPolicy: 'only', defaultPreset: 'card' });
  });

  const stages: unknown[] = [
    { allowedWidths: [100, 200], presets: { wide: 'width=333' } },
    { allowedWidths: [100, 200], widthPolicy: 'snap', presets: { wide: 'width=333' } },
    { limits: { maxDimension: 500 }, presets: { big: 'width=600' } },
    { presets: { odd: 'fit=squash' } },
    { defaultQuality: 0 },
  ];
  for (const stage of stages) {
    it(`agrees with sls package on ${JSON.stringify(stage)}`, async () => {
      const local = await load(stage).then(
        () => 'accepted',
        (error: Error) => error.message.replace(/^.*stage\.json: /, ''),
      );
      let deployed: string;
      try {
        edgeConfigFrom({}, stage, 'dev');
        deployed = 'accepted';
      } catch (error) {
        deployed = (error as Error).message.replace('serverless.yml: custom.stages.dev.', '');
      }
      // The same reason, whichever prefixes name the file and the field.
      const reason = (message: string) => message.replace(/^([\w.[\]]+: )+/, '');
      expect(reason(deployed)).to.equal(reason(local));
    });
  }
});
