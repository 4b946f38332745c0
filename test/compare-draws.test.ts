// `compare` over several calibration draws: the summary arithmetic (mean, sample sd, failed draws
// counted and left out), the Markdown and SVG outputs with a spread, and a real two-draw run on the
// bundled model showing that each draw calibrates on its own windows.
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { expandGrid } from '../src/compare/grid.js';
import { compareMarkdown } from '../src/compare/markdown.js';
import { runCompare, type CompareResult, type CompareRun } from '../src/compare/run.js';
import { mean, sampleSd, summarizeRuns } from '../src/compare/summary.js';
import { compareSvg } from '../src/compare/svg.js';
import { calibrationDraws, storiesSequences } from '../src/corpus.js';
import { CpuBackend } from '../src/kernels/cpu/index.js';
import { openModel } from '../src/model/load.js';
import { loadTokenizer } from '../src/model/tokenizer.js';
import { bundled } from '../src/paths.js';

type Method = 'slimllm' | 'random';
const recoveryOf = { slimllm: 'regression', random: 'none' } as const;

/** A run of draw `draw`; a null perplexity stands for a failed run (its error is 'boom d'). */
function fakeRun(method: Method, targetRatio: number, draw: number, ppl: number | null, removedFraction = targetRatio): CompareRun {
  return {
    method, recovery: recoveryOf[method], headUnit: 'group', targetRatio, draw, calibSeed: 42 + draw,
    removedFraction: ppl === null ? null : removedFraction, ppl, nll: ppl === null ? null : Math.log(ppl),
    widths: null, pruneMs: 1, evalMs: 1, ...(ppl === null ? { error: `boom ${draw}` } : {}),
  };
}

describe('summary over calibration draws', () => {
  it('mean and sample standard deviation (n − 1) against hand-computed values', () => {
    expect(mean([2, 4, 9])).toBe(5);
    // Deviations −3, −1, 4: squares sum to 26, over n − 1 = 2 gives 13.
    expect(sampleSd([2, 4, 9])).toBeCloseTo(Math.sqrt(13), 12);
    // Deviations ±1.5, ±0.5: squares sum to 5, over 3.
    expect(sampleSd([1, 2, 3, 4])).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(sampleSd([7])).toBeNull();
    expect(mean([])).toBeNull();
    expect(sampleSd([])).toBeNull();
  });

  it('failed draws are counted and left out of the mean; one successful draw has no sd', () => {
    const grid = expandGrid(['slimllm', 'random'], ['default']);
    const runs = [
      fakeRun('slimllm', 0.2, 0, 2, 0.2), fakeRun('slimllm', 0.2, 1, 4, 0.2), fakeRun('slimllm', 0.2, 2, null), fakeRun('slimllm', 0.2, 3, 9, 0.23),
      fakeRun('random', 0.2, 0, 6), fakeRun('random', 0.2, 1, Number.POSITIVE_INFINITY), fakeRun('random', 0.2, 2, null), fakeRun('random', 0.2, 3, null),
    ];
    const [slim, rand] = summarizeRuns(runs, grid, [0.2]);
    expect(slim).toMatchObject({ method: 'slimllm', recovery: 'regression', targetRatio: 0.2, n: 3, failed: 1, pplMean: 5, errors: ['boom 2'] });
    expect(slim.pplSd).toBeCloseTo(Math.sqrt(13), 12);
    expect(slim.removedFractionMean).toBeCloseTo(0.21, 12);
    // An infinite perplexity is no result either: counted as failed, not averaged into an infinite mean.
    expect(rand).toMatchObject({ n: 1, failed: 3, pplMean: 6, pplSd: null, removedFractionMean: 0.2 });
    expect(rand.errors).toEqual(['no finite perplexity', 'boom 2', 'boom 3']);
  });

  it('a single draw gives the value itself and sd null', () => {
    const grid = expandGrid(['slimllm'], ['default']);
    const [s] = summarizeRuns([fakeRun('slimllm', 0.3, 0, 11)], grid, [0.3]);
    expect(s).toMatchObject({ n: 1, failed: 0, pplMean: 11, pplSd: null, removedFractionMean: 0.3, errors: [] });
  });
});

describe('outputs over several draws', () => {
  const grid = expandGrid(['slimllm', 'random'], ['default']);
  const ratios = [0.2, 0.5];
  const runs = [
    ...[2, 4, null, 9].map((p, d) => fakeRun('slimllm', 0.2, d, p)),
    ...[6, 7, 8, 9].map((p, d) => fakeRun('random', 0.2, d, p)),
    ...[20, null, null, null].map((p, d) => fakeRun('slimllm', 0.5, d, p)),
    ...[null, null, null, null].map((p, d) => fakeRun('random', 0.5, d, p)),
  ];
  const r: CompareResult = {
    model: 'm', device: 'cpu', evaluation: { sequences: 2, tokens: 10, label: 'x' },
    calibration: { sequences: 4, seqLen: 64, draws: 4, seeds: [42, 43, 44, 45], source: 'stories 500–999 of t.txt' }, params: 100,
    dense: { ppl: 3, nll: Math.log(3), tokens: 10 }, ratios, grid, runs, summary: summarizeRuns(runs, grid, ratios),
  };

  it('Markdown: mean ± sd per cell, best mean bolded, failures counted, N and the seeds stated', () => {
    const md = compareMarkdown(r);
    expect(md).toContain('| slimllm + regression (default) | **5.00** ± 3.61 (20.0 %; 1 of 4 draws failed) | **20.00** ± n/a (50.0 %; 3 of 4 draws failed) |');
    expect(md).toContain('| random + none | 7.50 ± 1.29 (20.0 %) | failed: boom 0 |');
    expect(md).toContain('N = 4 calibration draws (seeds 42, 43, 44, 45) of 4×64 tokens from stories 500–999 of t.txt');
    expect(md).toContain('mean ± sample standard deviation');
  });

  it('SVG: means with ±1 sd error bars, and says what the bars are', () => {
    const svg = compareSvg(r);
    expect(svg.startsWith('<svg')).toBe(true);
    // Two cells have an sd (slimllm and random at 0.2); slimllm at 0.5 has one successful draw, no bar.
    expect(svg.match(/class="error-bar"/g)).toHaveLength(2);
    expect(svg).toContain('points: mean over 4 calibration draws');
    expect(svg).toContain('bars: ±1 sample sd over the draws');
    expect(svg).toContain('calibration 4 draws of 4×64 tokens (seeds 42–45)');
    // Each bar is drawn from mean − sd up to mean + sd: upwards on the page, so y decreases.
    const bars = [...svg.matchAll(/class="error-bar" d="M([\d.]+) ([\d.]+)V([\d.]+)/g)].map((m) => ({ low: Number(m[2]), high: Number(m[3]) }));
    expect(bars.every((b) => b.high < b.low)).toBe(true);
  });
});

describe('a real comparison over two draws (stories260K, CPU backend)', () => {
  const cpu = new CpuBackend();
  const src = openModel(bundled.model());
  afterAll(() => {
    src.close();
    cpu.dispose();
  });
  const tok = loadTokenizer(bundled.tokenizer());
  const text = fs.readFileSync(bundled.stories(), 'utf8');
  const calibText = text.split('<|endoftext|>').slice(500, 600).join('<|endoftext|>');
  const draws = calibrationDraws(tok, calibText, 4, 64, 7, 2);
  const evalSeqs = storiesSequences(tok, text, '1:3', src.config.maxSeqLen);
  const grid = expandGrid(['slimllm', 'random'], ['default']);

  it('each draw has its own seed and windows; calibration-sensitive results differ; dense runs once', async () => {
    expect(draws.map((d) => d.seed)).toEqual([7, 8]);
    expect(draws[0].tokens).not.toEqual(draws[1].tokens);
    const steps: string[] = [];
    const r = await runCompare(cpu, src, { ratios: [0.2], grid, draws, evalSeqs, calibLabel: 'stories 500–599', onProgress: (_d, _t, what) => steps.push(what) });
    expect(steps.filter((w) => w === 'dense')).toHaveLength(1);
    expect(steps).toContain('draw 2 of 2 (seed 8): slimllm/regression @ 0.2');
    expect(r.calibration).toEqual({ sequences: 4, seqLen: 64, draws: 2, seeds: [7, 8], source: 'stories 500–599' });
    expect(r.runs.map((x) => [x.method, x.draw, x.calibSeed, x.randomSeed])).toEqual([
      ['slimllm', 0, 7, undefined], ['random', 0, 7, 0], ['slimllm', 1, 8, undefined], ['random', 1, 8, 1],
    ]);
    expect(r.runs.every((x) => x.error === undefined && Number.isFinite(x.ppl))).toBe(true);
    const ppl = (m: string) => r.runs.filter((x) => x.method === m).map((x) => x.ppl as number);
    // SlimLLM scores units from calibration activations, random from its seed: both move between draws.
    expect(ppl('slimllm')[0]).not.toBe(ppl('slimllm')[1]);
    expect(ppl('random')[0]).not.toBe(ppl('random')[1]);
    const slim = r.summary.find((s) => s.method === 'slimllm')!;
    expect(slim.n).toBe(2);
    expect(slim.pplMean).toBeCloseTo((ppl('slimllm')[0] + ppl('slimllm')[1]) / 2, 10);
    expect(slim.pplSd).toBeCloseTo(Math.abs(ppl('slimllm')[0] - ppl('slimllm')[1]) / Math.SQRT2, 10);

    // A single-draw call with the same windows reproduces draw 0.
    const one = await runCompare(cpu, src, { ratios: [0.2], grid: grid.slice(0, 1), calib: draws[0].tokens, evalSeqs });
    expect(one.runs[0].ppl).toBe(ppl('slimllm')[0]);
    expect(one.calibration).toMatchObject({ draws: 1, seeds: [null] });
    expect(one.summary[0].pplSd).toBeNull();
  }, 300_000);

  it('calib and draws together, or neither, are refused', async () => {
    await expect(runCompare(cpu, src, { ratios: [0.2], grid, calib: draws[0].tokens, draws, evalSeqs })).rejects.toThrow(/give calib or draws, not both/);
    await expect(runCompare(cpu, src, { ratios: [0.2], grid, evalSeqs })).rejects.toThrow(/no calibration/);
    expect(() => calibrationDraws(tok, calibText, 4, 64, 7, 0)).toThrow(/draws 0/);
  });
});
