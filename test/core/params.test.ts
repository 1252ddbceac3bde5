import { expect } from 'chai';
import { createConfig } from '../../src/core/config.js';
import { HttpError } from '../../src/core/errors.js';
import { derivativeKey, parseDerivativeKey } from '../../src/core/keys.js';
import { canonicalVariant, negotiateFormat, parseImageParams } from '../../src/core/params.js';

const config = createConfig();
// The WebP-or-original negotiation (AVIF aside): what these keys were written for.
const keyFor = (query: string, accept?: string, cfg = config) =>
  derivativeKey(
    'photos/cat.jpg',
    canonicalVariant(parseImageParams(query, cfg), negotiateFormat(accept, { ...cfg, autoAvif: false }), cfg),
  );

function expectError(fn: () => unknown, code: string, message?: RegExp): HttpError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(HttpError);
    expect((error as HttpError).code).to.equal(code);
    if (message) expect((error as HttpError).message).to.match(message);
    return error as HttpError;
  }
  expect.fail(`expected a ${code} error`);
}

describe('core/params', () => {
  describe('canonical keys', () => {
    it('writes every output-affecting value into the key', () => {
      expect(keyFor('width=400&height=300', 'image/webp')).to.equal('photos/cat.jpg/w400-h300-q80-cover.webp');
    });

    it('gives one key for any parameter order and for defaults written out or left off', () => {
      const variants = [
        'width=400&height=300',
        'height=300&width=400',
        'width=400&height=300&quality=80&fit=cover&format=auto&dpr=1',
        'dpr=1&fit=cover&width=400&quality=80&height=300',
        'width=400&height=300&utm_source=newsletter',
      ];
      const keys = new Set(variants.map((q) => keyFor(q, 'image/webp,*/*')));
      expect([...keys]).to.deep.equal(['photos/cat.jpg/w400-h300-q80-cover.webp']);
    });

    it('folds dpr into pixels', () => {
      expect(keyFor('width=200&dpr=2')).to.equal(keyFor('width=400'));
      expect(keyFor('width=333&dpr=1.5')).to.equal(keyFor('width=500'));
    });

    it('folds fit when fewer than two dimensions are given, since the aspect ratio is kept anyway', () => {
      expect(keyFor('width=400&fit=contain')).to.equal(keyFor('width=400'));
      expect(keyFor('width=400&height=300&fit=contain')).to.not.equal(keyFor('width=400&height=300'));
    });

    it('maps Accept headers that negotiate the same format to one key', () => {
      const chrome = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
      const firefox = 'image/avif,image/webp,*/*';
      expect(keyFor('width=400', chrome)).to.equal(keyFor('width=400', firefox));
      expect(keyFor('width=400', chrome)).to.match(/\.webp$/);
      const old = ['*/*', 'image/png,image/*;q=0.8,*/*;q=0.5', undefined, 'image/webp;q=0'];
      expect(new Set(old.map((a) => keyFor('width=400', a))).size).to.equal(1);
      expect(keyFor('width=400', '*/*')).to.match(/\.original$/);
    });

    it('uses AVIF only when asked for, whatever Accept says', () => {
      expect(keyFor('width=400', 'image/avif,image/webp')).to.match(/\.webp$/);
      expect(keyFor('width=400&format=avif', '*/*')).to.match(/\.avif$/);
    });

    it('ignores quality for PNG output, which is lossless', () => {
      expect(keyFor('format=png&quality=30')).to.equal(keyFor('format=png'));
    });

    it('round-trips through parseDerivativeKey', () => {
      for (const q of ['width=400&height=300&fit=contain&format=jpeg&quality=55', 'height=20', '', 'format=avif']) {
        const key = keyFor(q, 'image/webp');
        const parsed = parseDerivativeKey(key);
        expect(parsed?.key).to.equal('photos/cat.jpg');
        expect(derivativeKey(parsed!.key, parsed!.variant)).to.equal(key);
      }
    });
  });

  describe('validation', () => {
    const bad: [string, RegExp][] = [
      ['width=abc', /Expected integer between 1 and 4096 for width but received 'abc'/],
      ['width=0', /width/],
      ['width=4097', /4096/],
      ['width=-5', /width/],
      ['width=1.5', /width/],
      ['width=1e3', /width/],
      ['width=', /width/],
      ['height=99999999999999', /height/],
      ['quality=0', /quality/],
      ['quality=101', /quality/],
      ['fit=crop', /one of cover, contain, fill, inside, outside for fit/],
      ['format=gif', /format/],
      ['dpr=0.5', /dpr/],
      ['dpr=5', /dpr/],
      ['dpr=1.234', /dpr/],
      ['width=3000&dpr=2', /at most 4096/],
      ['width=100&width=200', /more than once/],
    ];
    for (const [query, message] of bad) {
      it(`rejects ${query} with 400 invalid_param`, () => {
        const error = expectError(() => keyFor(query), 'invalid_param', message);
        expect(error.status).to.equal(400);
      });
    }
  });

  describe('width allow-list', () => {
    it('rejects other widths naming the allowed ones', () => {
      const cfg = createConfig({ allowedWidths: [800, 200, 400], widthPolicy: 'reject' });
      expect(keyFor('width=400', undefined, cfg)).to.match(/w400-/);
      expectError(() => keyFor('width=401', undefined, cfg), 'invalid_param', /200, 400, 800/);
    });

    it('snaps up to the next allowed width, capped at the largest', () => {
      const cfg = createConfig({ allowedWidths: [200, 400, 800], widthPolicy: 'snap' });
      expect(keyFor('width=201', undefined, cfg)).to.equal(keyFor('width=400', undefined, cfg));
      expect(keyFor('width=150&dpr=2', undefined, cfg)).to.equal(keyFor('width=400', undefined, cfg));
      expect(keyFor('width=1000', undefined, cfg)).to.match(/w800-/);
    });
  });
});

describe('core/params, crops, effects and focal points', () => {
  const key = (query: string, accept = 'image/webp', cfg = config) =>
    derivativeKey('photos/cat.jpg', canonicalVariant(parseImageParams(query, cfg), negotiateFormat(accept, cfg), cfg));

  it('keeps the derivative keys of URLs without the new parameters and without an explicit format', () => {
    expect(key('width=400&height=300', 'image/webp')).to.equal('photos/cat.jpg/w400-h300-q80-cover.webp');
    expect(key('width=400&height=300', '*/*')).to.equal('photos/cat.jpg/w400-h300-q80-cover.original');
    expect(key('width=400&height=300&format=auto', 'image/png')).to.equal(
      'photos/cat.jpg/w400-h300-q80-cover.original',
    );
    expect(key('height=20', 'image/webp')).to.equal('photos/cat.jpg/wauto-h20-q80-cover.webp');
    expect(key('format=jpeg&quality=55')).to.equal('photos/cat.jpg/wauto-hauto-q55-cover.jpeg');
  });

  it('never gives negotiated and explicit formats one key', () => {
    const keys = [
      key('width=400', 'image/avif,image/webp'),
      key('width=400', 'image/webp'),
      key('width=400', '*/*'),
      key('width=400&format=avif'),
      key('width=400&format=webp'),
      key('width=400&format=jpeg'),
      key('width=400&format=png'),
    ];
    expect(new Set(keys).size).to.equal(keys.length);
    expect(keys[0]).to.match(/\.auto-avif$/);
    expect(keys[4]).to.match(/\.format-webp$/);
    // autoAvif off: an AVIF browser gets the WebP class; above the AVIF output cap too.
    expect(key('width=400', 'image/avif,image/webp', createConfig({ autoAvif: false }))).to.match(/\.webp$/);
    expect(key('width=4000&height=4000', 'image/avif,image/webp')).to.match(/\.webp$/);
  });

  it('writes every crop and effect value into the key, in the order the operations apply', () => {
    expect(
      key(
        'width=400&height=300&rect=10,20,300,200&trim=10&rotate=90&flip=h&gravity=top-left&blur=2.5&sharpen=1.5&bg=ff000080',
      ),
    ).to.equal(
      'photos/cat.jpg/w400-h300-q80-cover-rect10_20_300_200-trim10-rot90-fliph-gtopleft-blur2.5-sharpen1.5-bgff000080.webp',
    );
    expect(key('width=400&height=300&fx=0.3&fy=0.625')).to.equal('photos/cat.jpg/w400-h300-q80-cover-fp0.3_0.625.webp');
    expect(key('width=400&height=300&fx=0.3')).to.equal('photos/cat.jpg/w400-h300-q80-cover-fp0.3_0.5.webp');
  });

  it('folds gravity without a crop or padding, and values equal to the defaults', () => {
    const plain = key('width=400&height=300');
    for (const q of ['gravity=focal', 'rotate=0', 'bg=fff', 'bg=FFFFFF', 'bg=ffffffff', 'bg=FFFF']) {
      expect(key(`width=400&height=300&${q}`), q).to.equal(plain);
    }
    expect(key('width=400&gravity=attention')).to.equal(key('width=400'));
    expect(key('width=400&height=300&fit=fill&gravity=attention')).to.equal(key('width=400&height=300&fit=fill'));
    expect(key('width=400&height=300&fit=contain&gravity=top')).to.not.equal(key('width=400&height=300&fit=contain'));
    // focal and center are different derivatives: the edge cannot know whether a point is stored.
    expect(key('width=400&height=300&gravity=center')).to.not.equal(plain);
  });

  it("resolves the stage's defaultGravity into the variant", () => {
    const attention = createConfig({ defaultGravity: 'attention' });
    expect(key('width=400&height=300', 'image/webp', attention)).to.match(/-gattention\.webp$/);
    expect(key('width=400&height=300&gravity=attention', 'image/webp', attention)).to.equal(
      key('width=400&height=300', 'image/webp', attention),
    );
    expect(key('width=400&height=300&gravity=focal', 'image/webp', attention)).to.equal(plain());
    function plain() {
      return key('width=400&height=300');
    }
  });

  describe('presets', () => {
    const presets = createConfig({
      presets: { card: 'width=640&height=360&gravity=attention', blurred: 'blur=20&width=100' },
    });
    it('expands a preset before canonicalization; the URL overrides it', () => {
      expect(key('preset=card', 'image/webp', presets)).to.equal(
        key('width=640&height=360&gravity=attention', 'image/webp', presets),
      );
      expect(key('preset=card&width=320', 'image/webp', presets)).to.equal(
        key('width=320&height=360&gravity=attention', 'image/webp', presets),
      );
      expect(key('preset=card&fx=0.2', 'image/webp', presets)).to.equal(
        key('width=640&height=360&fx=0.2', 'image/webp', presets),
      );
    });
    it('refuses an unknown preset listing the names', () => {
      expectError(() => key('preset=hero', 'image/webp', presets), 'invalid_param', /one of card, blurred for preset/);
    });
    it('with presetPolicy only, refuses other image parameters but format and dpr, naming the presets', () => {
      const only = createConfig({ ...presets, presetPolicy: 'only' });
      expect(key('preset=card&format=webp&dpr=2', 'image/webp', only)).to.equal(
        key('width=1280&height=720&gravity=attention&format=webp', 'image/webp', presets),
      );
      expectError(
        () => key('preset=card&width=10', 'image/webp', only),
        'invalid_param',
        /width.*presets: card, blurred/,
      );
      expectError(() => key('blur=3', 'image/webp', only), 'invalid_param', /blur/);
    });
  });

  describe('validation', () => {
    const bad: [string, RegExp][] = [
      ['blur=0', /^Expected number between 0.3 and 100 for blur but received '0'$/],
      ['blur=100.5', /blur/],
      ['blur=1.25', /blur/],
      ['sharpen=0.4', /sharpen/],
      ['sharpen=11', /sharpen/],
      ['fx=1.5', /fx/],
      ['fy=0.1234', /fy/],
      ['fx=-0.1', /fx/],
      ['gravity=middle', /one of center, top, .* for gravity/],
      ['gravity=attention&fx=0.5', /gravity/],
      ['rect=1,2,3', /rect/],
      ['rect=1,2,0,4', /rect/],
      ['rect=a,b,c,d', /rect/],
      ['rotate=45', /one of 0, 90, 180, 270 for rotate/],
      ['flip=x', /flip/],
      ['bg=ggg', /bg/],
      ['bg=12345', /bg/],
      ['trim=0', /trim/],
      ['trim=101', /trim/],
      ['preset=x', /preset/],
      ['gravity=top&gravity=left', /more than once/],
    ];
    for (const [query, message] of bad) {
      it(`rejects ${query} with 400 invalid_param, even where it would fold away`, () => {
        const error = expectError(() => key(query), 'invalid_param', message);
        expect(error.status).to.equal(400);
      });
    }
  });
});
