import { expect } from 'chai';
import { createPlaintextPool } from '../../src/core/plaintext-pool.js';

const MiB = 1024 * 1024;
/** Whether two buffers share memory (the same ArrayBuffer). */
const same = (a: Buffer, b: Buffer) => a.buffer === b.buffer;

describe('core/plaintext-pool', () => {
  it('hands out buffers of exactly the size asked, and reuses a released one for the next', () => {
    const pool = createPlaintextPool({ maxIdle: 1, maxBytes: 8 * MiB });
    const first = pool.acquire(3 * MiB + 5);
    expect(first.length).to.equal(3 * MiB + 5);
    pool.release(first);
    expect(pool.idle()).to.deep.equal([4 * MiB]);
    const second = pool.acquire(2 * MiB);
    expect(second.length).to.equal(2 * MiB);
    expect(same(first, second), 'the released buffer is reused').to.equal(true);
    expect(pool.idle()).to.deep.equal([]);
  });

  it('never lends one buffer twice at once: a second miss gets its own', () => {
    const pool = createPlaintextPool({ maxIdle: 2, maxBytes: 8 * MiB });
    const a = pool.acquire(MiB);
    pool.release(a);
    const b = pool.acquire(MiB);
    const c = pool.acquire(MiB);
    expect(same(a, b)).to.equal(true);
    expect(same(b, c)).to.equal(false);
    b.fill(1);
    c.fill(2);
    expect(b[0]).to.equal(1);
  });

  it('keeps at most maxIdle buffers, the largest ones, and none over maxBytes', () => {
    const pool = createPlaintextPool({ maxIdle: 2, maxBytes: 8 * MiB });
    const held = [pool.acquire(MiB), pool.acquire(3 * MiB), pool.acquire(2 * MiB), pool.acquire(9 * MiB)];
    for (const buffer of held) pool.release(buffer);
    expect(pool.idle()).to.deep.equal([2 * MiB, 3 * MiB]);
    // A request larger than every idle buffer gets a new one; the idle ones stay.
    const big = pool.acquire(5 * MiB);
    expect(held.some((buffer) => same(buffer, big))).to.equal(false);
    expect(pool.idle()).to.deep.equal([2 * MiB, 3 * MiB]);
    // The smallest idle buffer that fits is used.
    expect(same(pool.acquire(1), held[2] as Buffer)).to.equal(true);
  });

  it('ignores a second release, a buffer it did not lend, and pools nothing with maxIdle 0', () => {
    const pool = createPlaintextPool({ maxIdle: 2, maxBytes: 8 * MiB });
    const a = pool.acquire(MiB);
    pool.release(a);
    pool.release(a);
    pool.release(Buffer.alloc(MiB));
    expect(pool.idle()).to.deep.equal([MiB]);
    const none = createPlaintextPool({ maxIdle: 0 });
    const b = none.acquire(MiB);
    none.release(b);
    expect(none.idle()).to.deep.equal([]);
  });
});
