// GPU timing with timestamp queries (GpuContext.timeGpu). Each test states which case the device
// is in from the adapter's own feature list and checks that case, so none can pass by skipping:
// with `timestamp-query` the span is positive, grows with the work and brackets only the enclosed
// passes; without it (or with timestamps turned off) the work still runs and the result is null.
import { describe, expect, it } from 'vitest';
import { GpuContext, type GpuTensor } from '../src/gpu/context.js';
import { DISPATCHES_PER_SUBMIT } from '../src/gpu/tuning.js';
import { ELEMENTWISE_PROGRAMS, add } from '../src/kernels/gpu/elementwise.js';
import { LINEAR_PROGRAMS, linear } from '../src/kernels/gpu/linear.js';
import { randArray, useBackends } from './helpers.js';

const { gpu } = useBackends();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** GPU ns and wall ms of Y = X·Wᵀ for X [m, k] and W [n, k] (median of five, after one warm-up). */
async function timedMatmul(ctx: GpuContext, m: number, k: number, n: number): Promise<{ ns: number | null; wallMs: number }> {
  const x = ctx.upload(randArray(m * k, 1), [m, k]);
  const w = ctx.upload(randArray(n * k, 2), [n, k]);
  const spans: number[] = [];
  const walls: number[] = [];
  let ns: number | null = null;
  for (let rep = 0; rep < 6; rep++) {
    await ctx.sync();
    let y: GpuTensor | null = null;
    const t0 = performance.now();
    ns = await ctx.timeGpu('matmul', () => {
      y = linear(ctx, x, w);
    });
    if (rep > 0) {
      walls.push(performance.now() - t0);
      if (ns !== null) spans.push(ns);
    }
    ctx.free(y as unknown as GpuTensor);
  }
  for (const t of [x, w]) ctx.free(t);
  return { ns: ns === null ? null : median(spans), wallMs: median(walls) };
}

describe('GPU timing (timeGpu)', () => {
  it('the device enables timestamp-query exactly when the adapter offers it', () => {
    const ctx = gpu().ctx;
    const offered = ctx.adapterFeatures.has('timestamp-query');
    expect(ctx.timestamps).toBe(offered);
    expect(ctx.device.features.has('timestamp-query')).toBe(offered);
  });

  // 64× the work: on a software GPU shared with other test workers, a smaller ratio can drown in
  // scheduling noise (the span counts time the device threads were preempted).
  it('a matmul with 64× the FLOPs takes clearly more GPU time, within the wall time (or null without timestamps)', async () => {
    const ctx = gpu().ctx;
    const small = await timedMatmul(ctx, 128, 128, 128);
    const large = await timedMatmul(ctx, 512, 512, 512);
    if (!ctx.adapterFeatures.has('timestamp-query')) {
      expect([small.ns, large.ns]).toEqual([null, null]);
      return;
    }
    expect(small.ns).toBeGreaterThan(0);
    expect(large.ns as number).toBeGreaterThan(2 * (small.ns as number));
    // The GPU span lies within the call: it cannot exceed the wall time around it.
    expect((large.ns as number) / 1e6).toBeLessThanOrEqual(large.wallMs);
  });

  it('the span holds only the enclosed work, not earlier work still queued', async () => {
    const ctx = gpu().ctx;
    const big = ctx.upload(randArray(512 * 512, 3), [512, 512]);
    const tiny = ctx.upload(randArray(16 * 16, 4), [16, 16]);
    const tinySpans: number[] = [];
    const bigSpans: number[] = [];
    for (let rep = 0; rep < 5; rep++) {
      await ctx.sync();
      const before = linear(ctx, big, big); // encoded, not submitted: shares the encoder with the timed work
      let after: GpuTensor | null = null;
      const tinyNs = await ctx.timeGpu('tiny', () => {
        after = linear(ctx, tiny, tiny);
      });
      const bigNs = await ctx.timeGpu('big', () => {
        ctx.free(linear(ctx, big, big));
      });
      for (const t of [before, after as unknown as GpuTensor]) ctx.free(t);
      if (tinyNs !== null && bigNs !== null) {
        tinySpans.push(tinyNs);
        bigSpans.push(bigNs);
      }
    }
    for (const t of [big, tiny]) ctx.free(t);
    if (!ctx.adapterFeatures.has('timestamp-query')) {
      expect(tinySpans).toEqual([]);
      return;
    }
    expect(Math.min(...tinySpans)).toBeGreaterThan(0);
    expect(median(tinySpans)).toBeLessThan(median(bigSpans) / 4);
  });

  it('work over several submits and more passes than one query set holds is one span', async () => {
    const ctx = gpu().ctx;
    const a = ctx.upload(new Float32Array(1024).fill(1), [1024]);
    const scratch = ctx.tensor([1]);
    const passes = 70; // above QUERIES_PER_SET: the timing takes a second query set
    const dispatches0 = ctx.dispatchCount;
    let sum = a;
    const ns = await ctx.timeGpu('many passes', () => {
      for (let i = 0; i < Math.max(passes, DISPATCHES_PER_SUBMIT + 2); i++) {
        const next = add(ctx, sum, a);
        if (i < passes) ctx.copy(next.buffer, 0, scratch.buffer, 0, 4); // a copy ends the pass
        if (sum !== a) ctx.free(sum);
        sum = next;
      }
    });
    const n = Math.max(passes, DISPATCHES_PER_SUBMIT + 2);
    expect(ctx.dispatchCount - dispatches0).toBe(n);
    expect((await ctx.read(sum))[0]).toBe(n + 1);
    for (const t of [sum, a, scratch]) ctx.free(t);
    if (ctx.adapterFeatures.has('timestamp-query')) expect(ns).toBeGreaterThan(0);
    else expect(ns).toBeNull();
  });

  // Both timings have the same two passes and differ only in the second one's work, so a fixed
  // per-span cost of the software GPU cancels out: were the span to end with the first pass, the
  // two would be equal; it runs to the end of the last, so the large second matmul shows.
  it('a span runs to the end of the last pass: a large matmul after a copy shows in the span', async () => {
    const ctx = gpu().ctx;
    const small = ctx.upload(randArray(32 * 32, 5), [32, 32]);
    const large = ctx.upload(randArray(640 * 640, 6), [640, 640]);
    const scratch = ctx.tensor([1]);
    const twoPasses = (second: GpuTensor) => () => {
      const y = linear(ctx, small, small);
      ctx.copy(y.buffer, 0, scratch.buffer, 0, 4); // the second matmul goes into a pass of its own
      ctx.free(y);
      ctx.free(linear(ctx, second, second));
    };
    const smallSecond: number[] = [];
    const largeSecond: number[] = [];
    for (let rep = 0; rep < 5; rep++) {
      await ctx.sync();
      const a = await ctx.timeGpu('small, then small', twoPasses(small));
      const b = await ctx.timeGpu('small, then large', twoPasses(large));
      if (a !== null && b !== null) {
        smallSecond.push(a);
        largeSecond.push(b);
      }
    }
    for (const t of [small, large, scratch]) ctx.free(t);
    if (!ctx.adapterFeatures.has('timestamp-query')) {
      expect(smallSecond).toEqual([]);
      return;
    }
    expect(median(largeSecond)).toBeGreaterThan(2.5 * median(smallSecond));
  });

  it('refuses nesting and promises, survives a throw, and gives 0 for no work', async () => {
    const ctx = gpu().ctx;
    const offered = ctx.adapterFeatures.has('timestamp-query');
    expect(await ctx.timeGpu('nothing', () => {})).toBe(offered ? 0 : null);
    await expect(ctx.timeGpu('async', (async () => {}) as () => void)).rejects.toThrow(/returned a promise/);
    await expect(ctx.timeGpu('throws', () => {
      throw new Error('kernel failed');
    })).rejects.toThrow('kernel failed');
    if (offered) {
      let inner: Promise<number | null> | null = null;
      await ctx.timeGpu('outer', () => {
        inner = ctx.timeGpu('inner', () => {});
      });
      await expect(inner).rejects.toThrow(/do not nest/);
    }
    // After all of that the next timing works as before.
    const x = ctx.upload(new Float32Array(64).fill(2), [8, 8]);
    let y: GpuTensor | null = null;
    const ns = await ctx.timeGpu('after', () => {
      y = linear(ctx, x, x);
    });
    expect(Array.from(await ctx.read(y as unknown as GpuTensor))).toEqual(new Array(64).fill(32));
    if (offered) expect(ns).toBeGreaterThan(0);
    else expect(ns).toBeNull();
    ctx.free(x);
    ctx.free(y as unknown as GpuTensor);
  });

  it('with timestamps turned off the work runs as usual and timeGpu gives null', async () => {
    const ctx = await GpuContext.create({ timestamps: false });
    try {
      await ctx.loadPrograms([...LINEAR_PROGRAMS, ...ELEMENTWISE_PROGRAMS]);
      expect(ctx.timestamps).toBe(false);
      expect(ctx.device.features.has('timestamp-query')).toBe(false);
      const x = ctx.upload(new Float32Array(64).fill(1), [8, 8]);
      let y: GpuTensor | null = null;
      const ns = await ctx.timeGpu('off', () => {
        y = linear(ctx, x, x);
      });
      expect(ns).toBeNull();
      expect(Array.from(await ctx.read(y as unknown as GpuTensor))).toEqual(new Array(64).fill(8));
    } finally {
      ctx.dispose();
    }
  });
});
