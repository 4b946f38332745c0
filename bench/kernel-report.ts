// What bench:kernels reports besides the times themselves: the GPU it ran on (adapter, driver,
// features, limits), which clock a result's GFLOP/s come from, and the share of a stated peak.
// Kept apart from bench/kernels.ts, which runs when imported, so that tests can use it.
import type { GpuContext } from '../src/gpu/context.js';
import { KERNEL_LIMITS } from '../src/gpu/device.js';

export interface Timing {
  ms: number;
  gflops: number;
}


export interface GpuEnvironment {
  adapter: Readonly<Record<string, string | number | boolean>>;
  /** Dawn puts the driver's name and version into the adapter description; null when it is empty. */
  driver: string | null;
  /** Features enabled on the device (not all the adapter offers). */
  features: string[];
  limits: Record<(typeof KERNEL_LIMITS)[number], number>;
}

export function gpuEnvironment(ctx: GpuContext): GpuEnvironment {
  const description = ctx.adapterInfo.description;
  const limits = {} as GpuEnvironment['limits'];
  for (const name of KERNEL_LIMITS) limits[name] = ctx.limits[name];
  return {
    adapter: ctx.adapterInfo,
    driver: typeof description === 'string' && description.length > 0 ? description : null,
    features: [...ctx.device.features].sort(),
    limits,
  };
}

/**
 * `--peak-tflops X`: the GPU's stated peak in TFLOP/s, which results are given as a share of.
 * Absent: null. Anything but a positive finite number: an error naming the flag.
 */
export function parsePeakTflops(value: string | undefined): number | null {
  if (value === undefined) return null;
  const tflops = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(tflops) || tflops <= 0) {
    throw new Error(`--peak-tflops must be a positive number of TFLOP/s (e.g. --peak-tflops 67), got '${value}'`);
  }
  return tflops;
}

/** Achieved GFLOP/s as a fraction of a peak in TFLOP/s, rounded for the JSON. */
export function peakFraction(gflops: number, peakTflops: number): number {
  return Number((gflops / (peakTflops * 1000)).toFixed(4));
}

/** The share of the peak as the printed lines give it: a percentage and the peak it is of. */
export function percentOfPeak(fraction: number, peakTflops: number): string {
  const percent = fraction * 100;
  return `${percent < 1 ? percent.toFixed(2) : percent.toFixed(1)} % of ${peakTflops} TFLOP/s`;
}

export function timing(ms: number, flops: number): Timing {
  return { ms: Number(ms.toFixed(2)), gflops: Number((flops / ms / 1e6).toFixed(3)) };
}

export interface GpuTimings {
  /** Wall time from enqueueing to the GPU being done. */
  gpu: Timing;
  /** From the GPU's timestamps, where the device has them. */
  gpuTimestamp?: Timing;
  /** Which of the two the result's GFLOP/s and peak share are read from. */
  timing: 'timestamp' | 'wall';
  peakFraction?: number;
}

/** The GPU side of a result from the medians of both clocks (`timestampMs` null: no timestamps). */
export function gpuTimings(wallMs: number, timestampMs: number | null, flops: number, peakTflops: number | null): GpuTimings {
  const gpu = timing(wallMs, flops);
  const gpuTimestamp = timestampMs === null ? undefined : timing(timestampMs, flops);
  const chosen = gpuTimestamp ?? gpu;
  return {
    gpu,
    ...(gpuTimestamp ? { gpuTimestamp } : {}),
    timing: gpuTimestamp ? 'timestamp' : 'wall',
    ...(peakTflops === null ? {} : { peakFraction: peakFraction(chosen.gflops, peakTflops) }),
  };
}

/** The GPU part of a printed line: wall, timestamps if any, share of the peak if stated. */
export function describeGpu(t: GpuTimings, peakTflops: number | null): string {
  const wall = `GPU ${t.gpu.ms.toFixed(1)} ms ${t.gpu.gflops.toFixed(2)} GFLOP/s`;
  const stamps = t.gpuTimestamp ? ` (timestamps ${t.gpuTimestamp.ms.toFixed(1)} ms ${t.gpuTimestamp.gflops.toFixed(2)} GFLOP/s)` : '';
  const peak = peakTflops !== null && t.peakFraction !== undefined ? `, ${percentOfPeak(t.peakFraction, peakTflops)}` : '';
  return `${wall}${stamps}${peak}`;
}
