/** Bytes for people: one convention (SI, 1 kB = 1000 B) for the API's messages and the playground alike. */
import { expect } from 'chai';
import { createConfig } from '../../src/core/config.js';
import { formatBytes } from '../../src/core/format-bytes.js';
import { MAX_DIRECT_UPLOAD_BYTES, MAX_JSON_BYTES, originalTooLarge } from '../../src/core/limits.js';

describe('core/format-bytes', () => {
  it('counts in thousands, not in 1024s', () => {
    expect(formatBytes(999)).to.equal('999 B');
    expect(formatBytes(1000)).to.equal('1.0 kB');
    expect(formatBytes(MAX_JSON_BYTES)).to.equal('65.5 kB');
    expect(formatBytes(1_000_000)).to.equal('1.00 MB');
    expect(formatBytes(MAX_DIRECT_UPLOAD_BYTES)).to.equal('4.45 MB');
    expect(formatBytes(Number.NaN)).to.equal('—');
  });

  it('is what a limit message shows (the default 50 MiB original limit)', () => {
    expect(originalTooLarge(createConfig()).message).to.equal('The image is larger than 52.43 MB');
  });
});
