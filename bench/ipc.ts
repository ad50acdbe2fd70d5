/**
 * A tiny request/response protocol over Node's child-process IPC channel, used between the
 * benchmark runner and its children (the two servers and the load generator).
 */
import type { ChildProcess } from 'node:child_process';

interface RpcRequest {
  rpc: number;
  cmd: string;
  args?: unknown;
}

interface RpcResponse {
  rpc: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** An event a child sends on its own, e.g. `{ event: 'ready', port }`. */
export interface ChildEvent {
  event: string;
  [key: string]: unknown;
}

type Handler = (args: never) => unknown;

/** Child side: answers the parent's calls; exits when the parent goes away. */
export function serveRpc(handlers: Record<string, Handler>): void {
  if (!process.send) throw new Error('This script is meant to be started by bench/run.js (no IPC channel)');
  process.on('message', (msg: RpcRequest) => {
    if (typeof msg?.rpc !== 'number') return;
    const reply = (response: Omit<RpcResponse, 'rpc'>) => process.send?.({ rpc: msg.rpc, ...response });
    const handler = handlers[msg.cmd];
    if (!handler) {
      reply({ ok: false, error: `unknown command ${msg.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(msg.args as never))
      .then(
        (result) => reply({ ok: true, result }),
        (err: unknown) => reply({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  // Never outlive the runner.
  process.on('disconnect', () => process.exit(0));
}

export function emit(event: ChildEvent): void {
  process.send?.(event);
}

/** Parent side: calls into one child, each call bounded by a timeout. */
export class RpcClient {
  private next = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  private readonly waiters = new Map<string, (event: ChildEvent) => void>();
  private exited: string | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.on('message', (msg: RpcResponse | ChildEvent) => {
      if ('rpc' in msg && typeof msg.rpc === 'number') {
        const p = this.pending.get(msg.rpc);
        if (!p) return;
        this.pending.delete(msg.rpc);
        clearTimeout(p.timer);
        if (msg.ok) p.resolve(msg.result);
        else p.reject(new Error(`${this.name}: ${msg.error}`));
      } else if ('event' in msg) {
        this.waiters.get(msg.event)?.(msg);
      }
    });
    child.on('exit', (code, signal) => {
      this.exited = `${this.name} exited (code ${code}, signal ${signal})`;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(this.exited));
      }
      this.pending.clear();
    });
  }

  call<T>(cmd: string, args: unknown, timeoutMs: number): Promise<T> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const rpc = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rpc);
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(rpc, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ rpc, cmd, args } satisfies RpcRequest);
    });
  }

  /** Resolves with the child's next `event`, or rejects after `timeoutMs` or on exit. */
  waitFor(event: string, timeoutMs: number): Promise<ChildEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(event);
        reject(new Error(`${this.name}: no "${event}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const onExit = () => {
        clearTimeout(timer);
        reject(new Error(this.exited ?? `${this.name} exited`));
      };
      this.child.once('exit', onExit);
      this.waiters.set(event, (msg) => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        this.waiters.delete(event);
        resolve(msg);
      });
    });
  }

  /** Asks the child to stop, then makes sure it is gone (SIGKILL after `graceMs`). */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.call('stop', undefined, graceMs).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}
