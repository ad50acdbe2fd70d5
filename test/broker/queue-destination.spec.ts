import { describe, expect, it } from '@jest/globals';
import { QueueDestination } from '../../lib/broker/simple/queue-destination.js';

function queue(capacity = 10) {
  const delivered: Array<[string, string]> = [];
  const q = new QueueDestination<string, string>(capacity, (s, m) => delivered.push([s, m]));
  return { q, delivered };
}

describe('QueueDestination', () => {
  it('delivers each message to one subscriber, round-robin', () => {
    const { q, delivered } = queue();
    q.add('a');
    q.add('b');
    q.add('c');
    for (let i = 0; i < 7; i++) q.offer(`m${i}`);
    expect(delivered).toEqual([
      ['a', 'm0'],
      ['b', 'm1'],
      ['c', 'm2'],
      ['a', 'm3'],
      ['b', 'm4'],
      ['c', 'm5'],
      ['a', 'm6'],
    ]);
    expect(q.heldCount).toBe(0);
  });

  it('holds messages while nobody subscribes and drains them in order', () => {
    const { q, delivered } = queue();
    q.offer('m1');
    q.offer('m2');
    expect(delivered).toEqual([]);
    expect(q.heldCount).toBe(2);
    expect(q.isIdle).toBe(false);
    q.add('a');
    q.add('b');
    q.drain();
    expect(delivered).toEqual([
      ['a', 'm1'],
      ['b', 'm2'],
    ]);
    expect(q.heldCount).toBe(0);
  });

  it('never lets a new message overtake the backlog: the held ones go first', () => {
    const { q, delivered } = queue();
    q.offer('held');
    q.add('a');
    q.offer('new');
    expect(delivered.map(([, m]) => m)).toEqual(['held', 'new']);
    q.drain();
    expect(delivered.map(([, m]) => m)).toEqual(['held', 'new']);
  });

  it('drops the oldest held messages beyond the capacity and counts them once', () => {
    const { q, delivered } = queue(3);
    for (let i = 0; i < 5; i++) q.offer(`m${i}`);
    expect(q.heldCount).toBe(3);
    expect(q.takeDroppedCount()).toBe(2);
    expect(q.takeDroppedCount()).toBe(0);
    q.add('a');
    q.drain();
    expect(delivered.map(([, m]) => m)).toEqual(['m2', 'm3', 'm4']);
  });

  it('skips the subscriber to avoid when someone else is there', () => {
    const { q, delivered } = queue();
    q.add('a');
    q.add('b');
    q.offer('x', 'a');
    q.offer('y', 'a');
    q.offer('z', 'b');
    expect(delivered).toEqual([
      ['b', 'x'],
      ['b', 'y'],
      ['a', 'z'],
    ]);
  });

  it('gives a message to the subscriber to avoid when it is the only one', () => {
    const { q, delivered } = queue();
    q.add('a');
    q.offer('x', 'a');
    expect(delivered).toEqual([['a', 'x']]);
  });

  it('requeues unsettled messages in their order, to the other subscribers', () => {
    const { q, delivered } = queue();
    q.add('a');
    q.add('b');
    q.requeue(['r1', 'r2', 'r3'], 'a');
    expect(delivered).toEqual([
      ['b', 'r1'],
      ['b', 'r2'],
      ['b', 'r3'],
    ]);
  });

  it('requeues ahead of held messages, in order, when nobody subscribes', () => {
    const { q, delivered } = queue();
    q.offer('newer');
    q.requeue(['r1', 'r2']);
    q.add('a');
    q.drain();
    expect(delivered.map(([, m]) => m)).toEqual(['r1', 'r2', 'newer']);
  });

  it('bounds requeued messages by the capacity, dropping the oldest', () => {
    const { q, delivered } = queue(2);
    q.offer('newer');
    q.requeue(['r1', 'r2']);
    expect(q.takeDroppedCount()).toBe(1);
    q.add('a');
    q.drain();
    expect(delivered.map(([, m]) => m)).toEqual(['r2', 'newer']);
  });

  it('keeps the round-robin fair when a subscriber leaves', () => {
    const { q, delivered } = queue();
    q.add('a');
    q.add('b');
    q.add('c');
    q.offer('m0'); // a
    q.offer('m1'); // b; next is c
    q.remove('a');
    q.offer('m2');
    q.offer('m3');
    expect(delivered.slice(2)).toEqual([
      ['c', 'm2'],
      ['b', 'm3'],
    ]);
    q.remove('c');
    q.remove('b');
    expect(q.isIdle).toBe(true);
    q.remove('nobody');
    q.offer('held');
    expect(q.isIdle).toBe(false);
  });

  it('wraps the turn when the last subscriber in line leaves', () => {
    const { q, delivered } = queue();
    q.add('a');
    q.add('b');
    q.offer('m0'); // a; next is b
    q.remove('b');
    q.offer('m1');
    q.add('c');
    q.offer('m2');
    q.offer('m3');
    expect(delivered.slice(0, 2)).toEqual([
      ['a', 'm0'],
      ['a', 'm1'],
    ]);
    // Once c joins, the next two messages go one to each.
    expect(delivered.slice(2).map(([s]) => s).sort()).toEqual(['a', 'c']);
  });
});

describe('QueueDestination never strands messages behind a backlog', () => {
  it('delivers held messages, then the new one, when a message arrives while a subscriber is present', () => {
    const delivered: string[] = [];
    const queue = new QueueDestination<string, string>(10, (s, m) => delivered.push(`${s}:${m}`));
    queue.offer('held-1');
    queue.offer('held-2');
    queue.add('a'); // no drain yet (the broker schedules one after its RECEIPT)
    queue.offer('new');
    expect(delivered).toEqual(['a:held-1', 'a:held-2', 'a:new']);
    expect(queue.heldCount).toBe(0);
  });

  it('delivers requeued messages ahead of the backlog when a subscriber is present', () => {
    const delivered: string[] = [];
    const queue = new QueueDestination<string, string>(10, (s, m) => delivered.push(`${s}:${m}`));
    queue.offer('held');
    queue.add('a');
    queue.requeue(['r1', 'r2']);
    expect(delivered).toEqual(['a:r1', 'a:r2', 'a:held']);
  });

  it('counts the bytes of held messages in a counter shared by queues, through drops, requeues and drains', () => {
    const held = { bytes: 0 };
    const delivered: string[] = [];
    const a = new QueueDestination<string, string>(2, (_s, m) => delivered.push(m), (m) => m.length, held);
    const b = new QueueDestination<string, string>(2, (_s, m) => delivered.push(m), (m) => m.length, held);
    a.offer('aaa');
    a.offer('bb');
    b.offer('c');
    expect(held.bytes).toBe(6);
    a.offer('dddd'); // capacity 2: 'aaa' dropped
    expect(held.bytes).toBe(7);
    expect(a.wouldHold).toBe(true);
    a.add('s');
    a.drain();
    expect(delivered).toEqual(['bb', 'dddd']);
    expect(held.bytes).toBe(1);
    expect(a.wouldHold).toBe(false);
    b.requeue(['ee']);
    expect(held.bytes).toBe(3);
  });
});

describe('QueueDestination held ledger (issue 7: maxHeldBytes through requeue)', () => {
  it('tells the ledger every message entering and leaving a backlog, and evict removes one anywhere in it', () => {
    const order = new Set<string>();
    const ledger = { bytes: 0, hold: (m: string) => void order.add(m), release: (m: string) => void order.delete(m) };
    const delivered: string[] = [];
    const q = new QueueDestination<string, string>(3, (_s, m) => delivered.push(m), (m) => m.length, ledger);
    q.offer('aa');
    q.offer('bbb');
    q.requeue(['r']);
    expect([...order]).toEqual(['aa', 'bbb', 'r']);
    expect(q.oldest).toBe('r');
    expect(ledger.bytes).toBe(6);
    q.offer('dddd'); // capacity 3: the head ('r') is dropped
    expect([...order]).toEqual(['aa', 'bbb', 'dddd']);
    expect(ledger.bytes).toBe(9);
    expect(q.evict('bbb')).toBe(true);
    expect(q.evict('bbb')).toBe(false);
    expect(q.takeDroppedCount()).toBe(1); // evictions are the caller's to report
    expect([...order]).toEqual(['aa', 'dddd']);
    expect(ledger.bytes).toBe(6);
    q.add('s');
    q.drain();
    expect(delivered).toEqual(['aa', 'dddd']);
    expect(order.size).toBe(0);
    expect(ledger.bytes).toBe(0);
    expect(q.isIdle).toBe(false);
  });
});
