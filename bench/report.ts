/** Turns the raw figures of a run into rows (ratio to the ceiling, target, pass/fail) and a table. */
import type { CpuUse } from './usage.js';

export interface Target {
  /** `min`: the ratio must be at least `ratio` (higher is better); `max`: at most (lower is better). */
  kind: 'min' | 'max';
  ratio: number;
}

export interface Row {
  scenario: string;
  metric: string;
  unit: string;
  ceiling: number | undefined;
  sample: number | undefined;
  /** sample / ceiling */
  ratio: number | undefined;
  target?: Target;
  pass?: boolean;
  /** CPU use during the phase, with the ceiling and with the sample. */
  cpu?: { ceiling?: CpuUse; sample?: CpuUse };
}

export function row(
  scenario: string,
  metric: string,
  unit: string,
  ceiling: number | undefined,
  sample: number | undefined,
  target?: Target,
  cpu?: Row['cpu'],
): Row {
  const ratio = ceiling !== undefined && sample !== undefined && ceiling > 0 ? sample / ceiling : undefined;
  const pass =
    target === undefined || ratio === undefined
      ? undefined
      : target.kind === 'min'
        ? ratio >= target.ratio
        : ratio <= target.ratio;
  return { scenario, metric, unit, ceiling, sample, ratio, target, pass, cpu };
}

function formatNumber(value: number | undefined, unit: string): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  if (unit === 'ms') return value < 10 ? value.toFixed(2) : value.toFixed(1);
  if (unit === 'KiB' || unit === 'µs') return value.toFixed(value < 10 ? 2 : 1);
  return Math.round(value).toLocaleString('en-US');
}

function formatCpu(cpu: CpuUse | undefined): string {
  if (!cpu) return '—';
  const pct = (v: number | undefined) => (v === undefined ? '?' : String(Math.round(v * 100)));
  return `${pct(cpu.server)}/${pct(cpu.generator)}/${pct(cpu.other)}`;
}

export function formatTable(rows: Row[]): string {
  const header = ['scenario', 'metric', 'ceiling', 'sample', 'ratio', 'target', 'result', 'cpu% srv/gen/other (ceiling | sample)'];
  const lines = rows.map((r) => [
    r.scenario,
    `${r.metric} (${r.unit})`,
    formatNumber(r.ceiling, r.unit),
    formatNumber(r.sample, r.unit),
    r.ratio === undefined ? '—' : `${r.ratio.toFixed(2)}×`,
    r.target ? `${r.target.kind === 'min' ? '≥' : '≤'} ${r.target.ratio}×` : '',
    r.pass === undefined ? (r.target ? 'n/a' : '') : r.pass ? 'PASS' : 'FAIL',
    r.cpu ? `${formatCpu(r.cpu.ceiling)} | ${formatCpu(r.cpu.sample)}` : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const numeric = new Set([2, 3, 4]);
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}
