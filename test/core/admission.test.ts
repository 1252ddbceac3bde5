import { expect } from 'chai';
import { createAdmissionGate, defaultAdmissionOptions } from '../../src/core/admission.js';
import { HttpError } from '../../src/core/errors.js';

describe('core/admission', () => {
  it('runs at most `slots` at once and hands freed slots to waiters in arrival order', async () => {
    const gate = createAdmissionGate({ slots: 2, queue: 3 });
    const first = await gate.acquire();
    const second = await gate.acquire();
    const order: number[] = [];
    const waiters = [3, 4, 5].map((n) =>
      gate.acquire().then((release) => {
        order.push(n);
        return release;
      }),
    );
    expect(gate.load()).to.deep.equal({ active: 2, queued: 3 });

    first();
    const third = await waiters[0];
    expect(order).to.deep.equal([3]);
    expect(gate.load()).to.deep.equal({ active: 2, queued: 2 });
    second();
    third?.();
    const [fourth, fifth] = await Promise.all([waiters[1], waiters[2]]);
    expect(order).to.deep.equal([3, 4, 5]);
    fourth?.();
    fifth?.();
    expect(gate.load()).to.deep.equal({ active: 0, queued: 0 });
  });

  it('refuses at once with 503 busy and Retry-After when every slot and queue place is taken', async () => {
    const gate = createAdmissionGate({ slots: 1, queue: 1, retryAfterSeconds: 7 });
    const held = await gate.acquire();
    const queued = gate.acquire();
    const error = await gate.acquire().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(HttpError);
    expect((error as HttpError).status).to.equal(503);
    expect((error as HttpError).code).to.equal('busy');
    expect((error as HttpError).headers).to.deep.equal({ 'Retry-After': '7' });
    expect(gate.load()).to.deep.equal({ active: 1, queued: 1 });
    held();
    (await queued)();
    expect(gate.load()).to.deep.equal({ active: 0, queued: 0 });
  });

  it('a release called twice frees one slot only', async () => {
    const gate = createAdmissionGate({ slots: 1, queue: 2 });
    const release = await gate.acquire();
    const waiting = gate.acquire();
    release();
    release();
    const next = await waiting;
    expect(gate.load()).to.deep.equal({ active: 1, queued: 0 });
    next();
    expect(gate.load()).to.deep.equal({ active: 0, queued: 0 });
  });

  it('drops a waiter whose signal fires, with the signal reason, and keeps its place for no one', async () => {
    const gate = createAdmissionGate({ slots: 1, queue: 2 });
    const held = await gate.acquire();
    const controller = new AbortController();
    const reason = new HttpError('busy', 'out of time');
    const abandoned = gate.acquire(controller.signal);
    const patient = gate.acquire();
    controller.abort(reason);
    expect(await abandoned.catch((e: unknown) => e)).to.equal(reason);
    expect(gate.load()).to.deep.equal({ active: 1, queued: 1 });
    held();
    (await patient)();
    expect(gate.load()).to.deep.equal({ active: 0, queued: 0 });
    // An already-fired signal never takes a slot.
    expect(await gate.acquire(controller.signal).catch((e: unknown) => e)).to.equal(reason);
    expect(gate.load()).to.deep.equal({ active: 0, queued: 0 });
  });

  it('sizes slots to the cores, bounded by half the memory at 512 MB a miss, and never below one', () => {
    const GB = 1024 ** 3;
    expect(defaultAdmissionOptions({ cpus: 2, totalMemoryBytes: 8 * GB })).to.deep.equal({ slots: 2, queue: 8 });
    expect(defaultAdmissionOptions({ cpus: 16, totalMemoryBytes: 4 * GB })).to.deep.equal({ slots: 4, queue: 16 });
    expect(defaultAdmissionOptions({ cpus: 8, totalMemoryBytes: 0.5 * GB })).to.deep.equal({ slots: 1, queue: 4 });
  });
});
