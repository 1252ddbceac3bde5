import { expect } from 'chai';
import { createConfig, type EdgeResizerConfig } from '../../src/core/config.js';
import { HttpError } from '../../src/core/errors.js';
import { derivativeKey, parseDerivativeKey } from '../../src/core/keys.js';
import { canonicalVariant, negotiateFormat, parseImageParams } from '../../src/core/params.js';
import { viewerConfig } from '../../src/edge/viewer/config.js';
import { isViewerResponse, loadViewerFunction, toQueryString, viewerEvent } from '../../src/local/viewer-function.js';

/**
 * What URLs mean, pinned: for each URL its canonical query (what the viewer
 * function leaves), its derivative key (what origin-request stores it under)
 * and each bad value's message. Derivatives already stored keep their keys,
 * and a cache entry keeps its query, only while every row here holds.
 */
const STAGES: Record<string, EdgeResizerConfig> = {
  default: createConfig(),
  custom: createConfig({
    defaultQuality: 75,
    defaultFit: 'inside',
    defaultGravity: 'attention',
    allowedWidths: [160, 320, 640, 1280],
    widthPolicy: 'snap',
    presets: {
      card: 'width=640&height=360&gravity=attention',
      hero: 'width=1600&height=600&fx=0.5&fy=0.3&quality=70',
      thumb: 'width=160&height=160&fit=cover&sharpen=1',
    },
  }),
};

/** Stage, URL query, the viewer function's canonical query, the derivative key of `p/c.jpg` for an AVIF-capable browser. */
const URLS: Array<[string, string, string, string]> = [
  ['default', '', '', 'p/c.jpg/wauto-hauto-q80-cover.auto-avif'],
  ['default', 'width=400', 'width=400', 'p/c.jpg/w400-hauto-q80-cover.auto-avif'],
  ['default', 'height=300', 'height=300', 'p/c.jpg/wauto-h300-q80-cover.auto-avif'],
  ['default', 'width=400&height=300', 'width=400&height=300', 'p/c.jpg/w400-h300-q80-cover.auto-avif'],
  [
    'default',
    'width=400&height=300&fit=contain',
    'width=400&height=300&fit=contain',
    'p/c.jpg/w400-h300-q80-contain.auto-avif',
  ],
  ['default', 'width=400&fit=contain', 'width=400', 'p/c.jpg/w400-hauto-q80-cover.auto-avif'],
  [
    'default',
    'width=400&height=300&fit=fill&quality=55',
    'width=400&height=300&quality=55&fit=fill',
    'p/c.jpg/w400-h300-q55-fill.auto-avif',
  ],
  [
    'default',
    'width=400&height=300&fit=inside',
    'width=400&height=300&fit=inside',
    'p/c.jpg/w400-h300-q80-inside.auto-avif',
  ],
  [
    'default',
    'width=400&height=300&fit=outside',
    'width=400&height=300&fit=outside',
    'p/c.jpg/w400-h300-q80-outside.auto-avif',
  ],
  ['default', 'width=400&dpr=2', 'width=800', 'p/c.jpg/w800-hauto-q80-cover.auto-avif'],
  ['default', 'width=333&height=222&dpr=1.5', 'width=500&height=333', 'p/c.jpg/w500-h333-q80-cover.auto-avif'],
  ['default', 'format=webp', 'format=webp', 'p/c.jpg/wauto-hauto-q80-cover.format-webp'],
  ['default', 'format=avif&width=100', 'width=100&format=avif', 'p/c.jpg/w100-hauto-q80-cover.avif'],
  ['default', 'format=jpeg&quality=90', 'quality=90&format=jpeg', 'p/c.jpg/wauto-hauto-q90-cover.jpeg'],
  ['default', 'format=png&quality=10', 'format=png', 'p/c.jpg/wauto-hauto-q80-cover.png'],
  [
    'default',
    'width=400&height=300&gravity=top-left',
    'width=400&height=300&gravity=top-left',
    'p/c.jpg/w400-h300-q80-cover-gtopleft.auto-avif',
  ],
  [
    'default',
    'width=400&height=300&gravity=entropy',
    'width=400&height=300&gravity=entropy',
    'p/c.jpg/w400-h300-q80-cover-gentropy.auto-avif',
  ],
  ['default', 'width=400&height=300&gravity=focal', 'width=400&height=300', 'p/c.jpg/w400-h300-q80-cover.auto-avif'],
  [
    'default',
    'width=400&height=300&fx=0.3&fy=0.625',
    'width=400&height=300&fx=0.3&fy=0.625',
    'p/c.jpg/w400-h300-q80-cover-fp0.3_0.625.auto-avif',
  ],
  [
    'default',
    'width=400&height=300&fx=0.2',
    'width=400&height=300&fx=0.2&fy=0.5',
    'p/c.jpg/w400-h300-q80-cover-fp0.2_0.5.auto-avif',
  ],
  [
    'default',
    'width=400&height=300&fit=contain&fy=0.9&bg=f00',
    'width=400&height=300&fit=contain&fx=0.5&fy=0.9&bg=ff0000ff',
    'p/c.jpg/w400-h300-q80-contain-fp0.5_0.9-bgff0000ff.auto-avif',
  ],
  ['default', 'rect=10,20,300,200', 'rect=10,20,300,200', 'p/c.jpg/wauto-hauto-q80-cover-rect10_20_300_200.auto-avif'],
  ['default', 'trim=10', 'trim=10', 'p/c.jpg/wauto-hauto-q80-cover-trim10.auto-avif'],
  ['default', 'rotate=90', 'rotate=90', 'p/c.jpg/wauto-hauto-q80-cover-rot90.auto-avif'],
  ['default', 'rotate=0', '', 'p/c.jpg/wauto-hauto-q80-cover.auto-avif'],
  ['default', 'rotate=270&flip=hv', 'rotate=270&flip=hv', 'p/c.jpg/wauto-hauto-q80-cover-rot270-fliphv.auto-avif'],
  ['default', 'flip=h', 'flip=h', 'p/c.jpg/wauto-hauto-q80-cover-fliph.auto-avif'],
  ['default', 'flip=v', 'flip=v', 'p/c.jpg/wauto-hauto-q80-cover-flipv.auto-avif'],
  ['default', 'blur=2.5', 'blur=2.5', 'p/c.jpg/wauto-hauto-q80-cover-blur2.5.auto-avif'],
  ['default', 'sharpen=1.5', 'sharpen=1.5', 'p/c.jpg/wauto-hauto-q80-cover-sharpen1.5.auto-avif'],
  ['default', 'bg=ff000080', 'bg=ff000080', 'p/c.jpg/wauto-hauto-q80-cover-bgff000080.auto-avif'],
  ['default', 'bg=FFF', '', 'p/c.jpg/wauto-hauto-q80-cover.auto-avif'],
  ['default', 'bg=ffffffff', '', 'p/c.jpg/wauto-hauto-q80-cover.auto-avif'],
  [
    'default',
    'width=400&height=300&rect=10,20,300,200&trim=10&rotate=90&flip=h&gravity=top-left&blur=2.5&sharpen=1.5&bg=ff000080',
    'width=400&height=300&gravity=top-left&rect=10,20,300,200&rotate=90&flip=h&blur=2.5&sharpen=1.5&bg=ff000080&trim=10',
    'p/c.jpg/w400-h300-q80-cover-rect10_20_300_200-trim10-rot90-fliph-gtopleft-blur2.5-sharpen1.5-bgff000080.auto-avif',
  ],
  ['default', 'width=640', 'width=640', 'p/c.jpg/w640-hauto-q80-cover.auto-avif'],
  ['default', 'width=500', 'width=500', 'p/c.jpg/w500-hauto-q80-cover.auto-avif'],
  [
    'default',
    'width=400&height=300&quality=80&fit=cover&format=auto&dpr=1',
    'width=400&height=300',
    'p/c.jpg/w400-h300-q80-cover.auto-avif',
  ],
  ['custom', '', '', 'p/c.jpg/wauto-hauto-q75-inside.auto-avif'],
  ['custom', 'width=400', 'width=640', 'p/c.jpg/w640-hauto-q75-inside.auto-avif'],
  ['custom', 'height=300', 'height=300', 'p/c.jpg/wauto-h300-q75-inside.auto-avif'],
  ['custom', 'width=400&height=300', 'width=640&height=300', 'p/c.jpg/w640-h300-q75-inside.auto-avif'],
  [
    'custom',
    'width=400&height=300&fit=contain',
    'width=640&height=300&fit=contain',
    'p/c.jpg/w640-h300-q75-contain-gattention.auto-avif',
  ],
  ['custom', 'width=400&fit=contain', 'width=640', 'p/c.jpg/w640-hauto-q75-inside.auto-avif'],
  [
    'custom',
    'width=400&height=300&fit=fill&quality=55',
    'width=640&height=300&quality=55&fit=fill',
    'p/c.jpg/w640-h300-q55-fill.auto-avif',
  ],
  ['custom', 'width=400&height=300&fit=inside', 'width=640&height=300', 'p/c.jpg/w640-h300-q75-inside.auto-avif'],
  [
    'custom',
    'width=400&height=300&fit=outside',
    'width=640&height=300&fit=outside',
    'p/c.jpg/w640-h300-q75-outside.auto-avif',
  ],
  ['custom', 'width=400&dpr=2', 'width=1280', 'p/c.jpg/w1280-hauto-q75-inside.auto-avif'],
  ['custom', 'width=333&height=222&dpr=1.5', 'width=640&height=333', 'p/c.jpg/w640-h333-q75-inside.auto-avif'],
  ['custom', 'format=webp', 'format=webp', 'p/c.jpg/wauto-hauto-q75-inside.format-webp'],
  ['custom', 'format=avif&width=100', 'width=160&format=avif', 'p/c.jpg/w160-hauto-q75-inside.avif'],
  ['custom', 'format=jpeg&quality=90', 'quality=90&format=jpeg', 'p/c.jpg/wauto-hauto-q90-inside.jpeg'],
  ['custom', 'format=png&quality=10', 'format=png', 'p/c.jpg/wauto-hauto-q75-inside.png'],
  ['custom', 'width=400&height=300&gravity=top-left', 'width=640&height=300', 'p/c.jpg/w640-h300-q75-inside.auto-avif'],
  ['custom', 'width=400&height=300&gravity=entropy', 'width=640&height=300', 'p/c.jpg/w640-h300-q75-inside.auto-avif'],
  ['custom', 'width=400&height=300&gravity=focal', 'width=640&height=300', 'p/c.jpg/w640-h300-q75-inside.auto-avif'],
  ['custom', 'width=400&height=300&fx=0.3&fy=0.625', 'width=640&height=300', 'p/c.jpg/w640-h300-q75-inside.auto-avif'],
  ['custom', 'width=400&height=300&fx=0.2', 'width=640&height=300', 'p/c.jpg/w640-h300-q75-inside.auto-avif'],
  [
    'custom',
    'width=400&height=300&fit=contain&fy=0.9&bg=f00',
    'width=640&height=300&fit=contain&fx=0.5&fy=0.9&bg=ff0000ff',
    'p/c.jpg/w640-h300-q75-contain-fp0.5_0.9-bgff0000ff.auto-avif',
  ],
  ['custom', 'rect=10,20,300,200', 'rect=10,20,300,200', 'p/c.jpg/wauto-hauto-q75-inside-rect10_20_300_200.auto-avif'],
  ['custom', 'trim=10', 'trim=10', 'p/c.jpg/wauto-hauto-q75-inside-trim10.auto-avif'],
  ['custom', 'rotate=90', 'rotate=90', 'p/c.jpg/wauto-hauto-q75-inside-rot90.auto-avif'],
  ['custom', 'rotate=0', '', 'p/c.jpg/wauto-hauto-q75-inside.auto-avif'],
  ['custom', 'rotate=270&flip=hv', 'rotate=270&flip=hv', 'p/c.jpg/wauto-hauto-q75-inside-rot270-fliphv.auto-avif'],
  ['custom', 'flip=h', 'flip=h', 'p/c.jpg/wauto-hauto-q75-inside-fliph.auto-avif'],
  ['custom', 'flip=v', 'flip=v', 'p/c.jpg/wauto-hauto-q75-inside-flipv.auto-avif'],
  ['custom', 'blur=2.5', 'blur=2.5', 'p/c.jpg/wauto-hauto-q75-inside-blur2.5.auto-avif'],
  ['custom', 'sharpen=1.5', 'sharpen=1.5', 'p/c.jpg/wauto-hauto-q75-inside-sharpen1.5.auto-avif'],
  ['custom', 'bg=ff000080', 'bg=ff000080', 'p/c.jpg/wauto-hauto-q75-inside-bgff000080.auto-avif'],
  ['custom', 'bg=FFF', '', 'p/c.jpg/wauto-hauto-q75-inside.auto-avif'],
  ['custom', 'bg=ffffffff', '', 'p/c.jpg/wauto-hauto-q75-inside.auto-avif'],
  [
    'custom',
    'width=400&height=300&rect=10,20,300,200&trim=10&rotate=90&flip=h&gravity=top-left&blur=2.5&sharpen=1.5&bg=ff000080',
    'width=640&height=300&rect=10,20,300,200&rotate=90&flip=h&blur=2.5&sharpen=1.5&bg=ff000080&trim=10',
    'p/c.jpg/w640-h300-q75-inside-rect10_20_300_200-trim10-rot90-fliph-blur2.5-sharpen1.5-bgff000080.auto-avif',
  ],
  ['custom', 'width=640', 'width=640', 'p/c.jpg/w640-hauto-q75-inside.auto-avif'],
  ['custom', 'width=500', 'width=640', 'p/c.jpg/w640-hauto-q75-inside.auto-avif'],
  ['custom', 'preset=card', 'width=640&height=360', 'p/c.jpg/w640-h360-q75-inside.auto-avif'],
  ['custom', 'preset=card&width=800', 'width=1280&height=360', 'p/c.jpg/w1280-h360-q75-inside.auto-avif'],
  ['custom', 'preset=hero&gravity=top', 'width=1280&height=600&quality=70', 'p/c.jpg/w1280-h600-q70-inside.auto-avif'],
  [
    'custom',
    'preset=thumb&format=webp&dpr=2',
    'width=320&height=320&fit=cover&format=webp&sharpen=1',
    'p/c.jpg/w320-h320-q75-cover-gattention-sharpen1.format-webp',
  ],
  ['custom', 'preset=hero&fx=0.1', 'width=1280&height=600&quality=70', 'p/c.jpg/w1280-h600-q70-inside.auto-avif'],
  [
    'custom',
    'width=400&height=300&quality=80&fit=cover&format=auto&dpr=1',
    'width=640&height=300&quality=80&fit=cover',
    'p/c.jpg/w640-h300-q80-cover-gattention.auto-avif',
  ],
];

/** Stage, URL query, the 400's message. */
const BAD: Array<[string, string, string]> = [
  ['default', 'width=0', "Expected integer between 1 and 4096 for width but received '0'"],
  ['custom', 'width=0', "Expected integer between 1 and 4096 for width but received '0'"],
  ['default', 'width=abc', "Expected integer between 1 and 4096 for width but received 'abc'"],
  ['custom', 'width=abc', "Expected integer between 1 and 4096 for width but received 'abc'"],
  ['default', 'width=5000', "Expected integer between 1 and 4096 for width but received '5000'"],
  ['custom', 'width=5000', "Expected integer between 1 and 4096 for width but received '5000'"],
  ['default', 'height=4097', "Expected integer between 1 and 4096 for height but received '4097'"],
  ['custom', 'height=4097', "Expected integer between 1 and 4096 for height but received '4097'"],
  ['default', 'quality=0', "Expected integer between 1 and 100 for quality but received '0'"],
  ['custom', 'quality=0', "Expected integer between 1 and 100 for quality but received '0'"],
  ['default', 'quality=101', "Expected integer between 1 and 100 for quality but received '101'"],
  ['custom', 'quality=101', "Expected integer between 1 and 100 for quality but received '101'"],
  ['default', 'fit=crop', "Expected one of cover, contain, fill, inside, outside for fit but received 'crop'"],
  ['custom', 'fit=crop', "Expected one of cover, contain, fill, inside, outside for fit but received 'crop'"],
  ['default', 'format=gif', "Expected one of auto, webp, avif, jpeg, png for format but received 'gif'"],
  ['custom', 'format=gif', "Expected one of auto, webp, avif, jpeg, png for format but received 'gif'"],
  ['default', 'dpr=5', "Expected number between 1 and 4 for dpr but received '5'"],
  ['custom', 'dpr=5', "Expected number between 1 and 4 for dpr but received '5'"],
  ['default', 'dpr=1.234', "Expected number between 1 and 4 for dpr but received '1.234'"],
  ['custom', 'dpr=1.234', "Expected number between 1 and 4 for dpr but received '1.234'"],
  [
    'default',
    'gravity=middle',
    "Expected one of center, top, bottom, left, right, top-left, top-right, bottom-left, bottom-right, attention, entropy, focal for gravity but received 'middle'",
  ],
  [
    'custom',
    'gravity=middle',
    "Expected one of center, top, bottom, left, right, top-left, top-right, bottom-left, bottom-right, attention, entropy, focal for gravity but received 'middle'",
  ],
  ['default', 'fx=1.5', "Expected number between 0 and 1 for fx but received '1.5'"],
  ['custom', 'fx=1.5', "Expected number between 0 and 1 for fx but received '1.5'"],
  ['default', 'fy=-1', "Expected number between 0 and 1 for fy but received '-1'"],
  ['custom', 'fy=-1', "Expected number between 0 and 1 for fy but received '-1'"],
  ['default', 'rect=1,2,3', "Expected x,y,w,h of integers (w and h at least 1) for rect but received '1,2,3'"],
  ['custom', 'rect=1,2,3', "Expected x,y,w,h of integers (w and h at least 1) for rect but received '1,2,3'"],
  ['default', 'rect=1,2,0,4', "Expected x,y,w,h of integers (w and h at least 1) for rect but received '1,2,0,4'"],
  ['custom', 'rect=1,2,0,4', "Expected x,y,w,h of integers (w and h at least 1) for rect but received '1,2,0,4'"],
  ['default', 'rotate=45', "Expected one of 0, 90, 180, 270 for rotate but received '45'"],
  ['custom', 'rotate=45', "Expected one of 0, 90, 180, 270 for rotate but received '45'"],
  ['default', 'flip=x', "Expected one of h, v, hv for flip but received 'x'"],
  ['custom', 'flip=x', "Expected one of h, v, hv for flip but received 'x'"],
  ['default', 'blur=0.1', "Expected number between 0.3 and 100 for blur but received '0.1'"],
  ['custom', 'blur=0.1', "Expected number between 0.3 and 100 for blur but received '0.1'"],
  ['default', 'blur=2.55', "Expected number between 0.3 and 100 for blur but received '2.55'"],
  ['custom', 'blur=2.55', "Expected number between 0.3 and 100 for blur but received '2.55'"],
  ['default', 'sharpen=11', "Expected number between 0.5 and 10 for sharpen but received '11'"],
  ['custom', 'sharpen=11', "Expected number between 0.5 and 10 for sharpen but received '11'"],
  ['default', 'bg=red', "Expected hex colour rgb, rgba, rrggbb or rrggbbaa for bg but received 'red'"],
  ['custom', 'bg=red', "Expected hex colour rgb, rgba, rrggbb or rrggbbaa for bg but received 'red'"],
  ['default', 'trim=0', "Expected integer between 1 and 100 for trim but received '0'"],
  ['custom', 'trim=0', "Expected integer between 1 and 100 for trim but received '0'"],
  ['default', 'preset=nope', "Expected a preset (this stage defines none) for preset but received 'nope'"],
  ['custom', 'preset=nope', "Expected one of card, hero, thumb for preset but received 'nope'"],
  ['default', 'width=3000&dpr=2', 'Expected width × dpr at most 4096 but received 3000 × 2 = 6000'],
  ['custom', 'width=3000&dpr=2', 'Expected width × dpr at most 4096 but received 3000 × 2 = 6000'],
  ['default', 'width=1&width=2', 'Parameter width is given more than once'],
  ['custom', 'width=1&width=2', 'Parameter width is given more than once'],
  [
    'default',
    'width=10&height=10&gravity=top&fx=0.5',
    "Expected focal (or none) with fx and fy for gravity but received 'top'",
  ],
  [
    'custom',
    'width=10&height=10&gravity=top&fx=0.5',
    "Expected focal (or none) with fx and fy for gravity but received 'top'",
  ],
  [
    'default',
    'width=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    "Expected integer between 1 and 4096 for width but received 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'",
  ],
  [
    'custom',
    'width=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    "Expected integer between 1 and 4096 for width but received 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'",
  ],
];

const ACCEPT = 'image/avif,image/webp';
const keyFor = (query: string, config: EdgeResizerConfig) =>
  derivativeKey('p/c.jpg', canonicalVariant(parseImageParams(query, config), negotiateFormat(ACCEPT, config), config));

describe('core/url-table: URLs keep their canonical queries and derivative keys', () => {
  it('gives every URL of the table its pinned derivative key, which parses back to itself', () => {
    for (const [stage, query, , key] of URLS) {
      const config = STAGES[stage] as EdgeResizerConfig;
      expect(keyFor(query, config), `${stage} ?${query}`).to.equal(key);
      const parsed = parseDerivativeKey(key);
      expect(parsed && derivativeKey(parsed.key, parsed.variant), key).to.equal(key);
    }
  });

  it('has the bundled viewer function leave every URL of the table its pinned canonical query', () => {
    for (const name of Object.keys(STAGES)) {
      const handle = loadViewerFunction(viewerConfig(STAGES[name] as EdgeResizerConfig, null));
      for (const [stage, query, canonical, key] of URLS) {
        if (stage !== name) continue;
        const result = handle(viewerEvent('GET', '/p/c.jpg', query, { accept: ACCEPT }, '203.0.113.7'));
        if (isViewerResponse(result)) expect.fail(`${stage} ?${query} was answered ${result.statusCode}`);
        const left = toQueryString(result.querystring);
        expect(left, `${stage} ?${query}`).to.equal(canonical);
        // The canonical query names the same derivative as the URL.
        expect(keyFor(left, STAGES[stage] as EdgeResizerConfig), `${stage} ?${left}`).to.equal(key);
      }
    }
  });

  it('answers every bad URL of the table with its pinned message, at the edge and at the origin', () => {
    for (const [stage, query, message] of BAD) {
      const config = STAGES[stage] as EdgeResizerConfig;
      let caught: unknown;
      try {
        keyFor(query, config);
      } catch (error) {
        caught = error;
      }
      expect(caught, `${stage} ?${query}`).to.be.instanceOf(HttpError);
      expect((caught as HttpError).code).to.equal('invalid_param');
      expect((caught as HttpError).message, `${stage} ?${query}`).to.equal(message);
      const result = loadViewerFunction(viewerConfig(config, null))(
        viewerEvent('GET', '/p/c.jpg', query, { accept: ACCEPT }, '203.0.113.7'),
      );
      expect(isViewerResponse(result), `${stage} ?${query} at the edge`).to.equal(true);
      const body = isViewerResponse(result) && typeof result.body === 'object' ? JSON.parse(result.body.data) : {};
      expect(body, `${stage} ?${query} at the edge`).to.deep.equal({ status: 400, code: 'invalid_param', message });
    }
  });
});
