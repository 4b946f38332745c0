// Every command as a user runs it, with the options the other CLI tests do not: demo, compare,
// prune from calibration text with another method and recovery.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundled, packageRoot } from '../src/paths.js';

const bin = path.join(packageRoot(), 'bin', 'slimllm.js');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-smoke-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!);

describe('CLI smoke', () => {
  it('demo prunes, evaluates, writes the GGUF, prints the command, and leaves nothing else behind', () => {
    const tmp = path.join(root, 'demo-tmp');
    fs.mkdirSync(tmp);
    const r = run(['demo', '--device', 'cpu', '--stories', '1:4', '--json'], { TMPDIR: tmp });
    expect(r.status, r.stderr).toBe(0);
    const s = lastJson(r.stdout);
    expect(s.pruned.ppl).toBeGreaterThan(s.dense.ppl);
    expect(fs.existsSync(s.gguf)).toBe(true);
    expect(r.stdout).toContain(`npx -y node-llama-cpp@3.21.1 complete --model ${s.gguf}`);
    // Only the demo's own output folder remains (no calibration file, no work folder).
    expect(fs.readdirSync(tmp)).toEqual([path.basename(s.out)]);
  }, 300_000);

  it('prune from calibration text with another method and recovery', () => {
    const calibText = path.join(root, 'calib.txt');
    fs.writeFileSync(calibText, fs.readFileSync(bundled.stories(), 'utf8').split('<|endoftext|>').slice(500, 600).join('<|endoftext|>'));
    const out = path.join(root, 'wanda');
    const r = run(['prune', '--model', bundled.model(), '--out', out, '--ratio', '0.2', '--calib-text', calibText, '--calib-samples', '4', '--calib-len', '64',
      '--method', 'wanda-sp', '--recovery', 'lstsq', '--lstsq-damping', '0.05', '--device', 'cpu', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    expect(report.params.removedFraction).toBeGreaterThan(0.15);
  });

  it('compare writes results.json, .md and .svg', () => {
    const out = path.join(root, 'cmp');
    const r = run(['compare', '--model', bundled.model(), '--text', bundled.stories(), '--stories', '1:3', '--ratios', '0.2', '--methods', 'slimllm,magnitude',
      '--calib-samples', '4', '--calib-len', '64', '--out', out, '--device', 'cpu', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(res.runs.length).toBe(2);
    expect(res.runs.every((x: { ppl: number | null }) => Number.isFinite(x.ppl))).toBe(true);
    expect(fs.readFileSync(path.join(out, 'results.svg'), 'utf8')).toMatch(/^<svg/);
    expect(fs.readFileSync(path.join(out, 'results.md'), 'utf8').length).toBeGreaterThan(100);
  });

  it('compare --draws 2 runs each configuration on two calibration draws and reports mean ± sd', () => {
    const out = path.join(root, 'cmp-draws');
    const r = run(['compare', '--model', bundled.model(), '--text', bundled.stories(), '--stories', '1:3', '--ratios', '0.2', '--methods', 'slimllm,random',
      '--calib-samples', '4', '--calib-len', '64', '--seed', '5', '--draws', '2', '--out', out, '--device', 'cpu']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('draw 2 of 2 (seed 6): random/none @ 0.2');
    const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(res.calibration).toMatchObject({ draws: 2, seeds: [5, 6], source: 'stories 500–999 of tinystories_valid_first1000.txt' });
    expect(res.runs.map((x: { draw: number; calibSeed: number }) => [x.draw, x.calibSeed])).toEqual([[0, 5], [0, 5], [1, 6], [1, 6]]);
    expect(res.summary.map((s: { n: number; failed: number }) => [s.n, s.failed])).toEqual([[2, 0], [2, 0]]);
    expect(res.summary.every((s: { pplSd: number | null }) => s.pplSd !== null && s.pplSd > 0)).toBe(true);
    const md = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
    expect(md).toContain('N = 2 calibration draws (seeds 5, 6)');
    expect(md).toMatch(/\| slimllm \+ regression \(default\) \| (\*\*)?[\d.]+(\*\*)? ± [\d.]+ \(/);
    expect(fs.readFileSync(path.join(out, 'results.svg'), 'utf8').match(/class="error-bar"/g)).toHaveLength(2);
  });
});
