import { expect } from 'chai';
import { HttpError } from '../../src/core/errors.js';
import { focalPointFromJson, formatFocalPoint, parseFocalPoint } from '../../src/core/focal-point.js';

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
});
