/**
 * What both benchmark servers share: start, report the port, and answer the runner's questions
 * about this process (CPU time, memory after a full GC) until told to stop.
 */
import { emit, serveRpc } from '../ipc.js';
import { processUsage } from '../usage.js';

const gc = (globalThis as { gc?: () => void }).gc;

/** Full GCs until the heap stops shrinking (at most 4), then a pause so freed pages go back. */
async function settle(): Promise<void> {
  if (!gc) return;
  let last = Infinity;
  for (let i = 0; i < 4; i++) {
    gc();
    const used = process.memoryUsage().heapUsed;
    if (used >= last * 0.99) break;
    last = used;
  }
  await new Promise((r) => setTimeout(r, 200));
}

export async function runServer(start: () => Promise<{ port: number; path: string }>): Promise<void> {
  const { port, path } = await start();
  serveRpc({
    usage: async (args: { gc?: boolean } | undefined) => {
      if (args?.gc) await settle();
      return processUsage();
    },
    stop: () => {
      // Exit at once: a graceful close of thousands of sessions is not what we measure.
      setImmediate(() => process.exit(0));
      return true;
    },
  });
  emit({ event: 'ready', port, path, gc: gc !== undefined });
}
