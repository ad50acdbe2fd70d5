/**
 * Latency histogram in microseconds: exact below 1024 µs, then 64 buckets per power of two
 * (under 1.6 % error). Recording is one array increment, so it can take millions of samples.
 */
const LINEAR = 1024;
const SUB_BITS = 6;
const SUB = 1 << SUB_BITS;
const POWERS = 32 - 10; // 2^10 .. 2^31 µs

export interface LatencySummary {
  count: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export class Histogram {
  private readonly counts = new Float64Array(LINEAR + POWERS * SUB);
  private total = 0;
  private sum = 0;
  private maxValue = 0;

  record(micros: number): void {
    let v = micros < 0 ? 0 : Math.round(micros);
    if (v > 0x7fffffff) v = 0x7fffffff;
    this.total++;
    this.sum += v;
    if (v > this.maxValue) this.maxValue = v;
    this.counts[Histogram.index(v)]++;
  }

  private static index(v: number): number {
    if (v < LINEAR) return v;
    const exponent = 31 - Math.clz32(v); // >= 10
    const sub = (v >>> (exponent - SUB_BITS)) & (SUB - 1);
    return LINEAR + (exponent - 10) * SUB + sub;
  }

  private static valueAt(index: number): number {
    if (index < LINEAR) return index;
    const exponent = 10 + Math.floor((index - LINEAR) / SUB);
    const sub = (index - LINEAR) % SUB;
    const low = (1 << exponent) + sub * (1 << (exponent - SUB_BITS));
    return low + (1 << (exponent - SUB_BITS)) / 2;
  }

  get count(): number {
    return this.total;
  }

  /** Value (µs) at or below which `fraction` of the samples lie. */
  percentile(fraction: number): number {
    if (this.total === 0) return 0;
    const rank = Math.ceil(fraction * this.total);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(Histogram.valueAt(i), this.maxValue);
    }
    return this.maxValue;
  }

  summary(): LatencySummary {
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      count: this.total,
      p50: ms(this.percentile(0.5)),
      p99: ms(this.percentile(0.99)),
      max: ms(this.maxValue),
      mean: ms(this.total === 0 ? 0 : this.sum / this.total),
    };
  }
}
