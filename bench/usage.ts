/** CPU and memory figures of one process, and of the whole machine (Linux /proc/stat). */
import { readFileSync } from 'node:fs';

export interface ProcessUsage {
  /** Bytes. */
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** CPU time of this process so far, microseconds (user + system). */
  cpuMicros: number;
  /** This process's monotonic clock, microseconds. */
  wallMicros: number;
}

/** CPU use during a phase, in cores (1 = one core fully busy). */
export interface CpuUse {
  server: number;
  /** Server CPU time during the phase, microseconds. */
  serverMicros: number;
  generator: number;
  /** Everything else on the machine (other processes, interrupts); undefined without /proc/stat. */
  other: number | undefined;
}

export function processUsage(): ProcessUsage {
  const m = process.memoryUsage();
  const c = process.cpuUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    cpuMicros: c.user + c.system,
    wallMicros: Number(process.hrtime.bigint() / 1000n),
  };
}

/** Busy CPU time of all CPUs since boot, microseconds; undefined where /proc/stat is missing. */
export function machineBusyMicros(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    // cpu user nice system idle iowait irq softirq steal ...  (in USER_HZ = 1/100 s)
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
    return busy * 10_000;
  } catch {
    return undefined;
  }
}
