// The `slimllm` command as a user runs it (compiled package; `npm test` builds first).
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundled, packageRoot } from '../src/paths.js';

const bin = path.join(packageRoot(), 'bin', 'slimllm.js');
const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!);

describe('slimllm CLI', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-cli-'));
  const calib = path.join(tmp, 'calib.json');
  const all = JSON.parse(fs.readFileSync(new URL('./fixtures/stories260K-calib-32x128.json', import.meta.url), 'utf8'));
  fs.writeFileSync(calib, JSON.stringify(all.slice(0, 8)));
  const out = path.join(tmp, 'pruned');

  it('prune writes a loadable model, its tokenizer and report.json; --json summary last', () => {
    const r = run(['prune', '--model', bundled.model(), '--tokenizer', bundled.tokenizer(), '--out', out, '--layer-ratio', '0.25', '--pruned-layers', '4', '--calib-tokens', calib, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const summary = lastJson(r.stdout);
    expect(summary.params.after).toBeLessThan(summary.params.before);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    for (const k of ['layerScores', 'ratios', 'layers', 'params', 'calibration', 'timeMs']) expect(report).toHaveProperty(k);
    expect(report.layers[0]).toMatchObject({ index: expect.any(Number), ratio: expect.any(Number) });
    expect(fs.existsSync(path.join(out, 'config.json'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'tok512.bin'))).toBe(true);
    expect(r.stderr).toMatch(/prune/); // progress goes to stderr
  });

  it('info and eval read the pruned folder; eval --json prints nll, ppl, tokens, protocol, device', () => {
    const info = lastJson(execFileSync(process.execPath, [bin, 'info', '--model', out, '--json'], { encoding: 'utf8' }));
    expect(info.layers.some((l: { oBias: boolean }) => l.oBias)).toBe(true);
    const r = run(['eval', '--model', out, '--text', bundled.stories(), '--stories', '1:4', '--json', '--device', 'cpu']);
    expect(r.status, r.stderr).toBe(0);
    const e = lastJson(r.stdout);
    expect(Object.keys(e).sort()).toEqual(['device', 'nll', 'ppl', 'protocol', 'tokens']);
    expect(e.protocol).toBe('stories');
    expect(Number.isFinite(e.ppl)).toBe(true);
  });

  it('never overwrites an existing output folder', () => {
    const before = fs.readFileSync(path.join(out, 'report.json'), 'utf8');
    const r = run(['prune', '--model', bundled.model(), '--out', out, '--layer-ratio', '0.1', '--calib-tokens', calib]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/exists and is not empty/);
    expect(fs.readFileSync(path.join(out, 'report.json'), 'utf8')).toBe(before);
  });

  it('bad input is one clear line naming the problem', () => {
    const r1 = run(['prune', '--model', bundled.model(), '--out', path.join(tmp, 'x'), '--layer-ratio', '1.5', '--calib-tokens', calib]);
    expect(r1.status).toBe(1);
    expect(r1.stderr).toMatch(/layerRatio \(p\) must be in \[0, 1\)/);
    const r2 = run(['eval', '--model', path.join(tmp, 'missing.bin'), '--text', bundled.stories()]);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/missing\.bin: no such file/);
  });

  it('generate continues a prompt greedily', () => {
    const r = run(['generate', '--model', bundled.model(), '--tokenizer', bundled.tokenizer(), '--prompt', 'Once upon a time', '--tokens', '8']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Once upon a time, there was a little girl/);
  });
});
