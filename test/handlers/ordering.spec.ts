import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Injectable, UseInterceptors, type CallHandler, type NestInterceptor } from '@nestjs/common';
import { Subject, tap, type Observable } from 'rxjs';
import { DestinationVariable, MessageMapping, Payload, SendTo } from '../../lib/index.js';
import { connectAs, inboxOf, jsonBodies, seededDelays, sleep } from '../support/handler-fixtures.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { withTimeout, type TestClient } from '../support/stomp-client.js';

const COUNT = 100;
/** 0 or 5 ms per message, from a seeded generator: without serialization, replies would cross. */
const DELAYS = seededDelays(20240601, COUNT);

/** What one run of 100 messages looked like from inside the handler. */
interface Run {
  started: number[];
  finished: number[];
  active: number;
  maxActive: number;
}

/** An interceptor that changes nothing (a logging interceptor, say). */
@Injectable()
class PassThroughInterceptor implements NestInterceptor {
  intercepted = 0;
  intercept(_context: unknown, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(tap(() => this.intercepted++));
  }
}

@Controller()
class SequenceController {
  readonly runs = new Map<string, Run>();
  private latch: (() => void) | undefined;
  private latchOpened = new Promise<void>((resolve) => (this.latch = resolve));

  private async handle(run: string, i: number): Promise<{ i: number }> {
    let state = this.runs.get(run);
    if (!state) this.runs.set(run, (state = { started: [], finished: [], active: 0, maxActive: 0 }));
    state.started.push(i);
    state.active++;
    state.maxActive = Math.max(state.maxActive, state.active);
    await sleep(DELAYS[i]);
    state.active--;
    state.finished.push(i);
    return { i };
  }

  @MessageMapping('/seq/{run}')
  @SendTo('/topic/seq/{run}')
  seq(@DestinationVariable('run') run: string, @Payload() payload: { i: number }) {
    return this.handle(run, payload.i);
  }

  @MessageMapping('/seq-intercepted/{run}')
  @SendTo('/topic/seq-intercepted/{run}')
  @UseInterceptors(PassThroughInterceptor)
  seqIntercepted(@DestinationVariable('run') run: string, @Payload() payload: { i: number }) {
    return this.handle(run, payload.i);
  }

  readonly feed = new Subject<string>();

  /** A live stream: it emits only when a later message pushes into it. */
  @MessageMapping('/feed/plain')
  @SendTo('/topic/feed/plain')
  feedPlain() {
    return this.feed.asObservable();
  }

  @MessageMapping('/feed/intercepted')
  @SendTo('/topic/feed/intercepted')
  @UseInterceptors(PassThroughInterceptor)
  async feedIntercepted() {
    await sleep(1);
    return this.feed.asObservable();
  }

  @MessageMapping('/feed/push')
  push(@Payload() text: string) {
    this.feed.next(text);
    return undefined;
  }

  /** Waits until another session opens the latch: proves sessions run concurrently. */
  @MessageMapping('/latch/wait')
  @SendTo('/topic/latch')
  async waitForLatch() {
    await this.latchOpened;
    return 'latch passed';
  }

  @MessageMapping('/latch/open')
  openLatch() {
    this.latch?.();
    return undefined;
  }
}

describe('ordering', () => {
  let running: RunningApp;
  let controller: SequenceController;
  let client: TestClient;

  beforeAll(async () => {
    running = await startStompApp({}, { controllers: [SequenceController] });
    controller = running.app.get(SequenceController);
    client = await connectAs(running.url);
  });
  afterAll(async () => {
    await client?.disconnect();
    await running?.close();
  });

  it('uses delays that would reorder unserialized handlers', () => {
    expect(DELAYS.filter((d) => d === 0).length).toBeGreaterThan(10);
    expect(DELAYS.filter((d) => d === 5).length).toBeGreaterThan(10);
    expect(DELAYS.some((d, i) => d === 5 && DELAYS[i + 1] === 0)).toBe(true);
  });

  it.each([
    ['a plain async handler', 'seq'],
    ['a handler behind an interceptor', 'seq-intercepted'],
  ])('%s: 100 rapid SENDs are handled one at a time, in order, and replied to in order', async (_label, path) => {
    const run = unique('run');
    const replies = await inboxOf(client, `/topic/${path}/${run}`);
    const expected = Array.from({ length: COUNT }, (_, i) => i);
    // All frames go out at once; only the last asks for a receipt.
    const lastHandled = new Promise<void>((resolve) => client.client.watchForReceipt(`last-${run}`, () => resolve()));
    for (const i of expected) {
      client.client.publish({
        destination: `/app/${path}/${run}`,
        body: JSON.stringify({ i }),
        headers: { 'content-type': 'application/json', ...(i === COUNT - 1 ? { receipt: `last-${run}` } : {}) },
      });
    }
    await withTimeout(lastHandled, 'the RECEIPT of the 100th SEND', 15_000);
    await replies.waitFor(COUNT, 15_000);
    const state = controller.runs.get(run);
    expect(state?.started).toEqual(expected);
    expect(state?.finished).toEqual(expected);
    expect(state?.maxActive).toBe(1);
    expect(jsonBodies<{ i: number }>(replies).map((r) => r.i)).toEqual(expected);
  });

  it('does not hold the session back while an Observable the method returned is open (with or without interceptor)', async () => {
    const plain = await inboxOf(client, '/topic/feed/plain');
    const intercepted = await inboxOf(client, '/topic/feed/intercepted');
    const send = (destination: string, body: string) =>
      client.receipt((receipt) => client.client.publish({ destination, body, headers: { receipt, 'content-type': 'text/plain' } }));
    await send('/app/feed/plain', '');
    await send('/app/feed/intercepted', '');
    // Were the session still waiting for either stream, these frames would never be handled.
    await send('/app/feed/push', 'one');
    await send('/app/feed/push', 'two');
    await plain.waitFor(2);
    await intercepted.waitFor(2);
    expect(plain.bodies()).toEqual(['one', 'two']);
    expect(intercepted.bodies()).toEqual(['one', 'two']);
  });

  it('runs the handlers of different sessions concurrently', async () => {
    const other = await connectAs(running.url);
    try {
      const latch = await inboxOf(client, '/topic/latch');
      // client's handler blocks until other's handler opens the latch; with one global queue
      // this would never complete.
      const waited = client.receipt((receipt) => client.client.publish({ destination: '/app/latch/wait', body: '', headers: { receipt } }));
      await other.receipt((receipt) => other.client.publish({ destination: '/app/latch/open', body: '', headers: { receipt } }));
      await waited;
      expect(latch.bodies()).toEqual(['latch passed']);
    } finally {
      await other.disconnect();
    }
  });
});
