import { expect } from 'chai';
import { contentRange, type RangeResolution, resolveRange } from '../../src/core/range.js';

describe('core/range', () => {
  const cases: [string | undefined, number, RangeResolution][] = [
    [undefined, 100, { type: 'whole' }],
    ['bytes=0-9', 100, { type: 'partial', range: { start: 0, end: 9 } }],
    ['bytes=90-', 100, { type: 'partial', range: { start: 90, end: 99 } }],
    ['bytes=-10', 100, { type: 'partial', range: { start: 90, end: 99 } }],
    ['bytes=-500', 100, { type: 'partial', range: { start: 0, end: 99 } }],
    ['bytes=50-5000', 100, { type: 'partial', range: { start: 50, end: 99 } }],
    ['Bytes=1-1', 100, { type: 'partial', range: { start: 1, end: 1 } }],
    ['bytes=100-', 100, { type: 'unsatisfiable' }],
    ['bytes=100-200', 100, { type: 'unsatisfiable' }],
    ['bytes=-0', 100, { type: 'unsatisfiable' }],
    ['bytes=0-0', 0, { type: 'unsatisfiable' }],
    ['bytes=-5', 0, { type: 'unsatisfiable' }],
    // Ignored, so the whole body is served (RFC 9110 allows it).
    ['bytes=9-3', 100, { type: 'whole' }],
    ['bytes=0-1,4-5', 100, { type: 'whole' }],
    ['items=0-1', 100, { type: 'whole' }],
    ['bytes=-', 100, { type: 'whole' }],
    ['bytes=a-b', 100, { type: 'whole' }],
    // Offsets past 2^53 are past any end: clamped, not ignored.
    ['bytes=0-99999999999999999999', 100, { type: 'partial', range: { start: 0, end: 99 } }],
    ['bytes=5-99999999999999999999999999999', 100, { type: 'partial', range: { start: 5, end: 99 } }],
    ['bytes=-99999999999999999999', 100, { type: 'partial', range: { start: 0, end: 99 } }],
    ['bytes=99999999999999999999-', 100, { type: 'unsatisfiable' }],
    ['bytes=99999999999999999999-1', 100, { type: 'whole' }],
  ];
  for (const [header, size, expected] of cases) {
    it(`resolves ${header ?? 'no Range'} against ${size} bytes as ${expected.type}`, () => {
      expect(resolveRange(header, size)).to.deep.equal(expected);
    });
  }

  it('writes Content-Range for 206 and 416', () => {
    expect(contentRange({ start: 0, end: 9 }, 100)).to.equal('bytes 0-9/100');
    expect(contentRange(undefined, 100)).to.equal('bytes */100');
  });
});
