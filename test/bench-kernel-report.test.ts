// bench:kernels' reporting: --peak-tflops is parsed or refused with one line naming the flag, the
// peak share comes from the timestamp clock when there is one, and the GPU it ran on is described
// from the adapter and device. (The subprocess check runs the compiled bench: `npm test` builds first.)
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeGpu, gpuEnvironment, gpuTimings, parsePeakTflops, peakFraction, percentOfPeak } from '../bench/kernel-report.js';
import { packageRoot } from '../src/paths.js';
import { useBackends } from './helpers.js';

const { gpu } = useBackends();

describe('--peak-tflops', () => {
  it('takes a positive number and nothing else', () => {
    expect(parsePeakTflops(undefined)).toBeNull();
    expect(parsePeakTflops('67')).toBe(67);
    expect(parsePeakTflops('0.5')).toBe(0.5);
    for (const bad of ['', ' ', 'abc', '0', '-3', 'Infinity', 'NaN', '1e400']) {
      expect(() => parsePeakTflops(bad), bad).toThrow(/^--peak-tflops must be a positive number/);
    }
  });

  it('a bad value stops the bench with one error line naming the flag, before any GPU work', () => {
    const bench = path.join(packageRoot(), 'dist', 'bench', 'kernels.js');
    const run = spawnSync(process.execPath, [bench, '--peak-tflops', 'fast'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual([
      "bench:kernels: --peak-tflops must be a positive number of TFLOP/s (e.g. --peak-tflops 67), got 'fast'",
    ]);
  });
});

describe('peak share and the clock it uses', () => {
  it('is achieved GFLOP/s over the peak, printed as a percentage', () => {
    expect(peakFraction(500, 2)).toBe(0.25);
    expect(peakFraction(1970, 67)).toBeCloseTo(0.0294, 4);
    expect(percentOfPeak(0.25, 2)).toBe('25.0 % of 2 TFLOP/s');
    expect(percentOfPeak(0.0031, 67)).toBe('0.31 % of 67 TFLOP/s');
  });

  it('uses the timestamp time where there is one, else the wall time', () => {
    const flops = 2e9;
    const stamped = gpuTimings(1000, 500, flops, 0.01);
    expect(stamped).toEqual({ gpu: { ms: 1000, gflops: 2 }, gpuTimestamp: { ms: 500, gflops: 4 }, timing: 'timestamp', peakFraction: 0.4 });
    const wall = gpuTimings(1000, null, flops, 0.01);
    expect(wall).toEqual({ gpu: { ms: 1000, gflops: 2 }, timing: 'wall', peakFraction: 0.2 });
    expect(gpuTimings(1000, 500, flops, null)).not.toHaveProperty('peakFraction');
    expect(describeGpu(stamped, 0.01)).toBe('GPU 1000.0 ms 2.00 GFLOP/s (timestamps 500.0 ms 4.00 GFLOP/s), 40.0 % of 0.01 TFLOP/s');
    expect(describeGpu(wall, null)).toBe('GPU 1000.0 ms 2.00 GFLOP/s');
  });
});

describe('the GPU a run is recorded on', () => {
  it('names the adapter, driver, enabled features and the limits that bound the kernels', () => {
    const ctx = gpu().ctx;
    const env = JSON.parse(JSON.stringify(gpuEnvironment(ctx)));
    expect(typeof env.adapter.vendor).toBe('string');
    expect(typeof env.adapter.description).toBe('string');
    expect(env.driver).toBe(env.adapter.description || null);
    expect(env.features).toEqual([...ctx.device.features].sort());
    expect(env.features.includes('timestamp-query')).toBe(ctx.adapterFeatures.has('timestamp-query'));
    expect(Object.keys(env.limits)).toEqual([
      'maxStorageBufferBindingSize',
      'maxBufferSize',
      'maxComputeWorkgroupStorageSize',
      'maxComputeInvocationsPerWorkgroup',
      'maxComputeWorkgroupSizeX',
      'maxComputeWorkgroupSizeY',
    ]);
    for (const v of Object.values(env.limits)) expect(v).toBeGreaterThan(0);
    expect(env.limits.maxStorageBufferBindingSize).toBe(ctx.limits.maxStorageBufferBindingSize);
  });
});
