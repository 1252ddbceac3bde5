import { expect } from 'chai';
import { renderTable } from '../../bench/lib/report.js';
import { type AcceptClass, equalScoreLines, type Pair } from '../../bench/rows/bytes.js';

/** A pair as row 6 records it without butteraugli: scores NaN, "equal-score" bytes only the served bytes. */
function unscoredPair(photo: string, servedBytes: number, jpegBytes: number): Pair {
  const served = { format: 'avif', bytes: servedBytes, score: Number.NaN, equalBytes: servedBytes, transformMs: 10 };
  return {
    photo,
    set: 'articles',
    width: 400,
    jpeg: { bytes: jpegBytes, score: Number.NaN },
    served: { avif: served, webp: { ...served, format: 'webp' }, any: { ...served, format: 'jpeg' } },
  };
}

describe('bench/rows/bytes (row 6)', () => {
  const pairs = [unscoredPair('a.jpg', 600, 1000), unscoredPair('b.jpg', 650, 1000)];

  it('without a score, prints "not measured" at equal score and judges no target', () => {
    for (const cls of ['avif', 'webp', 'any'] as AcceptClass[]) {
      const lines = equalScoreLines(pairs, cls, false);
      expect(lines.map((l) => l.ours)).to.deep.equal(['not measured', 'not measured', 'not measured']);
      expect(lines.map((l) => l.pass)).to.deep.equal([undefined, undefined, undefined]);
      expect(lines.map((l) => l.value)).to.deep.equal([undefined, undefined, undefined]);
      const table = renderTable([{ id: 6, title: 'bytes', lines, notes: [], data: {} }]);
      expect(table).to.include('not measured');
      expect(table).to.not.match(/\|\s*(yes|NO)\s*\|/);
    }
  });

  it('with a score, judges the median and the heaviest image against their targets', () => {
    const scored = pairs.map((p) => ({ ...p, served: { ...p.served, avif: { ...p.served.avif, score: 1 } } }));
    const lines = equalScoreLines(scored, 'avif', true);
    expect(lines[0]?.ratio).to.be.within(0.6, 0.65);
    expect(lines[0]?.pass, 'median 0.63× against ≤ 0.70×').to.equal(true);
    expect(lines[1]?.pass, 'heaviest 0.65× against ≤ 1.00×').to.equal(true);
    const heavy = [...scored, { ...unscoredPair('c.jpg', 1100, 1000) }];
    expect(equalScoreLines(heavy, 'avif', true)[1]?.pass, 'one image at 1.10×').to.equal(false);
  });
});
