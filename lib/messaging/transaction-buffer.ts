import { messageSize } from '../broker/message-size.js';
import type { StompFrame } from '../protocol/frame.js';
import { StompProtocolError } from '../protocol/stomp-protocol-error.js';

/** Bounds of one session's open transactions (from `limits.*`). */
export interface TransactionLimits {
  /** Open transactions at once (`limits.maxTransactionsPerSession`). */
  readonly maxTransactionsPerSession: number;
  /** SEND/ACK/NACK frames held over all open transactions (`limits.maxTransactionFrames`). */
  readonly maxTransactionFrames: number;
  /** Bytes ({@link messageSize}) held over all open transactions (`limits.maxTransactionBytes`). */
  readonly maxTransactionBytes: number;
}

interface OpenTransaction {
  readonly frames: StompFrame[];
  bytes: number;
}

/**
 * One session's open STOMP transactions, for a broker that does not run transactions itself (the
 * simple broker): SEND, ACK and NACK frames inside a transaction are held until COMMIT, which
 * hands them back in order, or ABORT, which drops them (STOMP 1.2, "BEGIN"/"COMMIT"/"ABORT").
 * What is held is bounded in transactions, frames and bytes, with running counts, so a frame
 * costs the same however many transactions are open.
 */
export class TransactionBuffer {
  private readonly open = new Map<string, OpenTransaction>();
  private frames = 0;
  private bytes = 0;

  constructor(private readonly limits: TransactionLimits) {}

  begin(tx: string): void {
    if (this.open.has(tx)) {
      throw new StompProtocolError('DUPLICATE_TRANSACTION', `Transaction ${JSON.stringify(tx)} is already open`);
    }
    const max = this.limits.maxTransactionsPerSession;
    if (this.open.size >= max) {
      throw new StompProtocolError(
        'TOO_MANY_TRANSACTIONS',
        `Session already has ${max} open transactions (limits.maxTransactionsPerSession); COMMIT or ABORT one first`,
      );
    }
    this.open.set(tx, { frames: [], bytes: 0 });
  }

  /** Holds `frame` in transaction `tx`. */
  add(tx: string, frame: StompFrame): void {
    const transaction = this.get(tx);
    const size = messageSize(frame.headers, frame.body);
    const { maxTransactionFrames, maxTransactionBytes } = this.limits;
    if (this.frames >= maxTransactionFrames) {
      throw new StompProtocolError(
        'TRANSACTION_TOO_LARGE',
        `Open transactions exceed the limit of ${maxTransactionFrames} frames (limits.maxTransactionFrames); COMMIT or ABORT sooner`,
      );
    }
    if (this.bytes + size > maxTransactionBytes) {
      throw new StompProtocolError(
        'TRANSACTION_TOO_LARGE',
        `Open transactions would hold ${this.bytes + size} bytes, more than limits.maxTransactionBytes (${maxTransactionBytes}); COMMIT or ABORT sooner`,
      );
    }
    transaction.frames.push(frame);
    transaction.bytes += size;
    this.frames++;
    this.bytes += size;
  }

  /** Ends transaction `tx` and returns its frames, in order (for COMMIT; ABORT ignores them). */
  take(tx: string): StompFrame[] {
    const transaction = this.get(tx);
    this.open.delete(tx);
    this.frames -= transaction.frames.length;
    this.bytes -= transaction.bytes;
    return transaction.frames;
  }

  get size(): number {
    return this.open.size;
  }

  private get(tx: string): OpenTransaction {
    const transaction = this.open.get(tx);
    if (!transaction) {
      throw new StompProtocolError('UNKNOWN_TRANSACTION', `Unknown transaction ${JSON.stringify(tx)}`);
    }
    return transaction;
  }
}
