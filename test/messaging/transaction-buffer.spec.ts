import { describe, expect, it } from '@jest/globals';
import { MESSAGE_OVERHEAD_BYTES, messageSize } from '../../lib/broker/message-size.js';
import { TransactionBuffer, type TransactionLimits } from '../../lib/messaging/transaction-buffer.js';
import { createHeaders, type StompFrame } from '../../lib/protocol/frame.js';
import { StompProtocolError, type StompErrorCode } from '../../lib/protocol/stomp-protocol-error.js';

function send(body: string, transaction = 'tx'): StompFrame {
  const headers = createHeaders();
  headers['destination'] = '/queue/a';
  headers['transaction'] = transaction;
  return { command: 'SEND', headers, body: Buffer.from(body) };
}

/** The code of the StompProtocolError `action` throws (fails the test when it throws nothing else). */
function errorOf(action: () => unknown): StompProtocolError {
  try {
    action();
  } catch (err) {
    expect(err).toBeInstanceOf(StompProtocolError);
    return err as StompProtocolError;
  }
  throw new Error('expected a StompProtocolError, nothing was thrown');
}

function codeOf(action: () => unknown): StompErrorCode {
  return errorOf(action).code;
}

const roomy: TransactionLimits = { maxTransactionsPerSession: 16, maxTransactionFrames: 1000, maxTransactionBytes: 1024 * 1024 };

describe('TransactionBuffer', () => {
  it('hands back the frames of a transaction in order on take, and forgets it', () => {
    const buffer = new TransactionBuffer(roomy);
    buffer.begin('tx');
    const frames = [send('one'), send('two'), send('three')];
    for (const f of frames) buffer.add('tx', f);
    expect(buffer.size).toBe(1);
    expect(buffer.take('tx')).toEqual(frames);
    expect(buffer.size).toBe(0);
    // Taken means ended: a second COMMIT/ABORT of it is an unknown transaction.
    expect(codeOf(() => buffer.take('tx'))).toBe('UNKNOWN_TRANSACTION');
  });

  it('keeps transactions apart', () => {
    const buffer = new TransactionBuffer(roomy);
    buffer.begin('a');
    buffer.begin('b');
    buffer.add('a', send('a1', 'a'));
    buffer.add('b', send('b1', 'b'));
    buffer.add('a', send('a2', 'a'));
    expect(buffer.take('b').map((f) => f.body.toString())).toEqual(['b1']);
    expect(buffer.take('a').map((f) => f.body.toString())).toEqual(['a1', 'a2']);
  });

  it('refuses an unknown transaction on add and take, and a duplicate BEGIN, with their codes', () => {
    const buffer = new TransactionBuffer(roomy);
    const unknown = errorOf(() => buffer.add('nope', send('x', 'nope')));
    expect(unknown.code).toBe('UNKNOWN_TRANSACTION');
    expect(unknown.message).toContain('"nope"');
    expect(codeOf(() => buffer.take('nope'))).toBe('UNKNOWN_TRANSACTION');
    buffer.begin('tx');
    buffer.add('tx', send('kept'));
    const duplicate = errorOf(() => buffer.begin('tx'));
    expect(duplicate.code).toBe('DUPLICATE_TRANSACTION');
    expect(duplicate.message).toContain('"tx"');
    // The duplicate BEGIN did not reset the open transaction.
    expect(buffer.take('tx').map((f) => f.body.toString())).toEqual(['kept']);
  });

  it('bounds open transactions (maxTransactionsPerSession); ending one makes room', () => {
    const buffer = new TransactionBuffer({ ...roomy, maxTransactionsPerSession: 2 });
    buffer.begin('a');
    buffer.begin('b');
    const error = errorOf(() => buffer.begin('c'));
    expect(error.code).toBe('TOO_MANY_TRANSACTIONS');
    expect(error.message).toContain('limits.maxTransactionsPerSession');
    expect(buffer.size).toBe(2);
    buffer.take('a');
    expect(() => buffer.begin('c')).not.toThrow();
    expect(buffer.size).toBe(2);
  });

  it('bounds frames over all open transactions (maxTransactionFrames); take releases them', () => {
    const buffer = new TransactionBuffer({ ...roomy, maxTransactionFrames: 3 });
    buffer.begin('a');
    buffer.begin('b');
    buffer.add('a', send('1', 'a'));
    buffer.add('b', send('2', 'b'));
    buffer.add('a', send('3', 'a'));
    const error = errorOf(() => buffer.add('b', send('4', 'b')));
    expect(error.code).toBe('TRANSACTION_TOO_LARGE');
    expect(error.message).toContain('limits.maxTransactionFrames');
    // The refused frame was not held.
    expect(buffer.take('b')).toHaveLength(1);
    // b's one frame is released: exactly one more fits, not two.
    buffer.add('a', send('5', 'a'));
    expect(codeOf(() => buffer.add('a', send('6', 'a')))).toBe('TRANSACTION_TOO_LARGE');
    expect(buffer.take('a').map((f) => f.body.toString())).toEqual(['1', '3', '5']);
    // Everything released: the full budget is available again.
    buffer.begin('c');
    for (let i = 0; i < 3; i++) buffer.add('c', send(String(i), 'c'));
    expect(buffer.take('c')).toHaveLength(3);
  });

  it('bounds bytes (messageSize: body + headers + overhead) over all open transactions; take releases them', () => {
    const frame = send('x'.repeat(100));
    const size = messageSize(frame.headers, frame.body);
    expect(size).toBeGreaterThan(100 + MESSAGE_OVERHEAD_BYTES);
    // Room for exactly two such frames (both transaction ids have two characters, so all sizes match).
    const buffer = new TransactionBuffer({ ...roomy, maxTransactionBytes: 2 * size + size - 1 });
    buffer.begin('ta');
    buffer.begin('tx');
    buffer.add('ta', send('x'.repeat(100), 'ta'));
    buffer.add('tx', send('x'.repeat(100)));
    const error = errorOf(() => buffer.add('tx', send('x'.repeat(100))));
    expect(error.code).toBe('TRANSACTION_TOO_LARGE');
    expect(error.message).toContain('limits.maxTransactionBytes');
    expect(error.message).toContain(String(3 * size));
    // A smaller frame that fits the bytes left is still accepted.
    const small = send('');
    const smallSize = messageSize(small.headers, small.body);
    expect(smallSize).toBeLessThanOrEqual(size - 1);
    buffer.add('tx', small);
    buffer.take('ta');
    // ta's bytes are released: another big frame fits now.
    expect(() => buffer.add('tx', send('x'.repeat(100)))).not.toThrow();
    expect(buffer.take('tx')).toHaveLength(3);
  });

  it('a frame exactly at the byte limit fits; one byte more does not', () => {
    const frame = send('abc');
    const size = messageSize(frame.headers, frame.body);
    const exact = new TransactionBuffer({ ...roomy, maxTransactionBytes: size });
    exact.begin('tx');
    expect(() => exact.add('tx', frame)).not.toThrow();
    const under = new TransactionBuffer({ ...roomy, maxTransactionBytes: size - 1 });
    under.begin('tx');
    expect(codeOf(() => under.add('tx', frame))).toBe('TRANSACTION_TOO_LARGE');
  });
});
