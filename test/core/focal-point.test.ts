import { expect } from 'chai';
import { HttpError } from '../../src/core/errors.js';
import {
  focalPointFromJson,
  formatFocalPoint,
  parseFocalPoint,
  readStoredFocalPoint,
} from '../../src/core/focal-point.js';

describe('core/focal-point', () => {
  it('parses x,y fractions with up to 3 decimals, and formats them back', () => {
    expect(parseFocalPoint('0.3,0.6')).to.deep.equal({ x: 0.3, y: 0.6 });
    expect(parseFocalPoint(' 0 , 1.000 ')).to.deep.equal({ x: 0, y: 1 });
    expect(parseFocalPoint('0.125,1')).to.deep.equal({ x: 0.125, y: 1 });
    expect(formatFocalPoint({ x: 0.125, y: 1 })).to.equal('0.125,1');
    expect(parseFocalPoint(formatFocalPoint({ x: 0.001, y: 0.999 }))).to.deep.equal({ x: 0.001, y: 0.999 });
  });

  for (const bad of ['', '0.5', '1.001,0', '1.5,0', '0.1234,0', '-0.1,0', '.5,.5', '0.5;0.5', '0x1,0', '1e-1,0']) {
    it(`refuses '${bad}' with invalid_param naming the header`, () => {
      expect(() => parseFocalPoint(bad))
        .to.throw(HttpError, /X-Focal-Point/)
        .with.property('code', 'invalid_param');
    });
  }

  it('reads the JSON form, null included, and refuses anything else', () => {
    expect(focalPointFromJson({ x: 0.3, y: 0.6 })).to.deep.equal({ x: 0.3, y: 0.6 });
    expect(focalPointFromJson(null)).to.equal(null);
    for (const bad of [
      undefined,
      1,
      'x',
      [],
      {},
      { x: 0.5 },
      { x: 0.5, y: 1.5 },
      { x: 0.5, y: 0.5, z: 1 },
      { x: 0.0001, y: 0 },
    ]) {
      expect(() => focalPointFromJson(bad), JSON.stringify(bad))
        .to.throw(HttpError)
        .with.property('code', 'invalid_param');
    }
  });

  it('puts floating-point noise on the 3-decimal grid: one spelling stored, and the edge reads it', () => {
    const point = focalPointFromJson({ x: 1e-13, y: 0.1 + 0.2 });
    expect(point).to.deep.equal({ x: 0, y: 0.3 });
    expect(formatFocalPoint(point as { x: number; y: number })).to.equal('0,0.3');
    expect(formatFocalPoint({ x: 0.1 + 0.2, y: 1e-13 })).to.equal('0.3,0');
    expect(parseFocalPoint(formatFocalPoint({ x: 0.1 + 0.2, y: 0.7 + 0.1 }))).to.deep.equal({ x: 0.3, y: 0.8 });
    // What an earlier release stored is read onto the same grid, not dropped for the centre.
    expect(readStoredFocalPoint('1e-13,0.9')).to.deep.equal({ x: 0, y: 0.9 });
    expect(readStoredFocalPoint('0.30000000000000004,0.6')).to.deep.equal({ x: 0.3, y: 0.6 });
    expect(readStoredFocalPoint(formatFocalPoint({ x: 0.125, y: 1 }))).to.deep.equal({ x: 0.125, y: 1 });
    for (const value of [undefined, '', '0.5', 'a,b', '1.5,0.5', '0.5,-0.1', '0x1,0', 'Infinity,0']) {
      expect(readStoredFocalPoint(value), String(value)).to.equal(undefined);
    }
  });
});
