import { expect } from 'chai';
import { encryptBuffer, generateMasterKeyHex, parseMasterKey } from '../../src/core/envelope.js';
import { FOCAL_POINT_META, originalRevision, parseStoredFocalPoint } from '../../src/core/render.js';

describe('core/render', () => {
  describe('parseStoredFocalPoint', () => {
    it('reads `x,y` fractions', () => {
      expect(parseStoredFocalPoint('0.3,0.6')).to.deep.equal({ x: 0.3, y: 0.6 });
      expect(parseStoredFocalPoint(' 0 , 1 ')).to.deep.equal({ x: 0, y: 1 });
      expect(parseStoredFocalPoint('.25,0.125')).to.deep.equal({ x: 0.25, y: 0.125 });
    });
    it('ignores an absent, malformed or out-of-range value (the centre applies)', () => {
      for (const value of [undefined, '', '0.5', '0.5,', 'a,b', '1.5,0.5', '0.5,-0.1', '0.1,0.2,0.3', 'NaN,0.5']) {
        expect(parseStoredFocalPoint(value), String(value)).to.equal(undefined);
      }
    });
  });

  describe('originalRevision', () => {
    const masterKey = parseMasterKey(generateMasterKeyHex());
    const plaintext = Buffer.from('the same bytes');

    it('differs between two stored versions of the same bytes (fresh data key and IV each)', () => {
      const a = encryptBuffer(plaintext, masterKey).metadata;
      const b = encryptBuffer(plaintext, masterKey).metadata;
      expect(originalRevision(a)).to.not.equal(originalRevision(b));
    });
    it('changes with the focal point alone, and only with what a render reads', () => {
      const { metadata } = encryptBuffer(plaintext, masterKey);
      const base = originalRevision(metadata);
      expect(originalRevision({ ...metadata, [FOCAL_POINT_META]: '0.2,0.8' })).to.not.equal(base);
      expect(originalRevision({ ...metadata, 'resizer-object': '_versions/x/abc' })).to.equal(base);
      expect(originalRevision({ ...metadata })).to.equal(base);
    });
  });
});
