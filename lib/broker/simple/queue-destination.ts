/**
 * What the queues of one broker share about the messages they hold for absent subscribers:
 * their total bytes, and (optionally) which messages, told as each enters and leaves a backlog.
 */
export interface HeldLedger<M> {
  /** Bytes of every held message, by the queue's `sizeOf`. */
  bytes: number;
  /** `message` entered a backlog. */
  hold?(message: M): void;
  /** `message` left a backlog: delivered, dropped, or evicted. */
  release?(message: M): void;
}

/**
 * One queue-like destination: competing consumers, round-robin, and a bounded backlog held while
 * nobody subscribes. Generic over the subscriber and message types so it stays a pure structure.
 */
export class QueueDestination<S, M> {
  private readonly subscribers: S[] = [];
  private readonly backlog: M[] = [];
  private next = 0;
  private dropped = 0;

  constructor(
    private readonly capacity: number,
    private readonly deliver: (subscriber: S, message: M) => void,
    /** Bytes of a held message; with `held`, counts what all queues hold together. */
    private readonly sizeOf: (message: M) => number = () => 0,
    /** Shared by the queues of one broker: bytes and order of every held message. */
    private readonly held: HeldLedger<M> = { bytes: 0 },
  ) {}

  /** The message held longest in this queue's backlog, if any. */
  get oldest(): M | undefined {
    return this.backlog[0];
  }

  /**
   * Drops a held message to make room elsewhere (the caller reports it; {@link takeDroppedCount}
   * counts only capacity drops). Returns false when `message` is not in this backlog.
   */
  evict(message: M): boolean {
    const i = this.backlog[0] === message ? 0 : this.backlog.indexOf(message);
    if (i === -1) return false;
    if (i === 0) this.backlog.shift();
    else this.backlog.splice(i, 1);
    this.released(message);
    return true;
  }

  /** Whether {@link offer} would hold `message` rather than deliver it now. */
  get wouldHold(): boolean {
    return this.subscribers.length === 0 || this.backlog.length > 0;
  }

  get isIdle(): boolean {
    return this.subscribers.length === 0 && this.backlog.length === 0;
  }

  get heldCount(): number {
    return this.backlog.length;
  }

  get subscriberCount(): number {
    return this.subscribers.length;
  }

  /** Messages dropped because the backlog was full, since the last call. */
  takeDroppedCount(): number {
    const n = this.dropped;
    this.dropped = 0;
    return n;
  }

  /**
   * Hands `message` to the next subscriber in turn. `avoid` (the subscriber that just refused
   * it) is skipped when anyone else is there. With no subscriber the message waits, and so it
   * does behind a backlog that waits for {@link drain}, so that it never overtakes older messages.
   */
  offer(message: M, avoid?: S): void {
    const count = this.subscribers.length;
    if (count === 0 || this.backlog.length > 0) {
      this.backlog.push(message);
      this.holding(message);
      this.trim();
      // Behind older held messages: they go first, now, if anyone can take them.
      if (count > 0) this.drain();
      return;
    }
    let subscriber = this.subscribers[this.next % count];
    this.next = (this.next + 1) % count;
    if (subscriber === avoid && count > 1) {
      subscriber = this.subscribers[this.next];
      this.next = (this.next + 1) % count;
    }
    this.deliver(subscriber, message);
  }

  /**
   * Puts messages that were delivered but not settled back, in their original order and ahead
   * of everything sent since (as RabbitMQ requeues): to the subscribers other than `avoid`, or
   * to the head of the backlog.
   */
  requeue(messages: readonly M[], avoid?: S): void {
    if (this.subscribers.length === 0 || this.backlog.length > 0) {
      this.backlog.unshift(...messages);
      for (const message of messages) this.holding(message);
      this.trim();
      if (this.subscribers.length > 0) this.drain();
      return;
    }
    for (const message of messages) this.offer(message, avoid);
  }

  add(subscriber: S): void {
    this.subscribers.push(subscriber);
  }

  remove(subscriber: S): void {
    const i = this.subscribers.indexOf(subscriber);
    if (i === -1) return;
    this.subscribers.splice(i, 1);
    if (this.next > i) this.next--;
    if (this.next >= this.subscribers.length) this.next = 0;
  }

  /** Delivers the backlog to the current subscribers, oldest first. */
  drain(): void {
    while (this.backlog.length > 0 && this.subscribers.length > 0) {
      const count = this.subscribers.length;
      const subscriber = this.subscribers[this.next % count];
      this.next = (this.next + 1) % count;
      const message = this.backlog.shift() as M;
      this.released(message);
      this.deliver(subscriber, message);
    }
  }

  /** Drops the oldest held messages beyond the capacity. */
  private trim(): void {
    while (this.backlog.length > this.capacity) {
      this.released(this.backlog.shift() as M);
      this.dropped++;
    }
  }

  private holding(message: M): void {
    this.held.bytes += this.sizeOf(message);
    this.held.hold?.(message);
  }

  private released(message: M): void {
    this.held.bytes -= this.sizeOf(message);
    this.held.release?.(message);
  }
}
