import { expect } from 'chai';
import { createKeyLock } from '../../src/api/key-lock.js';
import { HttpError } from '../../src/core/errors.js';

describe('api/key-lock', () => {
  it('runs the writes of one key one at a time, in order, and other keys alongside', async () => {
    const lock = createKeyLock(10_000);
    const log: string[] = [];
    let running = 0;
    let most = 0;
    const write = (key: string, name: string) =>
      lock.run(key, async () => {
        running += key === 'a' ? 1 : 0;
        most = Math.max(most, running);
        log.push(`${name} start`);
        await new Promise((resolve) => setImmediate(resolve));
        log.push(`${name} end`);
        running -= key === 'a' ? 1 : 0;
        return name;
      });
    const results = await Promise.all([write('a', 'a1'), write('a', 'a2'), write('b', 'b1'), write('a', 'a3')]);
    expect(results).to.deep.equal(['a1', 'a2', 'b1', 'a3']);
    expect(most).to.equal(1);
    const a = log.filter((line) => line.startsWith('a'));
    expect(a).to.deep.equal(['a1 start', 'a1 end', 'a2 start', 'a2 end', 'a3 start', 'a3 end']);
    expect(log.indexOf('b1 start')).to.be.lessThan(log.indexOf('a1 end'));
  });

  it('refuses a writer that waited too long with 503 busy and Retry-After, and keeps the queue going', async () => {
    const lock = createKeyLock(1);
    let release: () => void = () => {};
    const first = lock.run('k', () => new Promise<void>((resolve) => (release = resolve)));
    const refused = await lock.run('k', async () => 'ran').catch((error: unknown) => error);
    expect(refused).to.be.instanceOf(HttpError).with.property('code', 'busy');
    expect((refused as HttpError).headers['Retry-After']).to.equal('1');
    release();
    await first;
    expect(await lock.run('k', async () => 'next')).to.equal('next');
  });
});
