// The `slimllm` command with GGUF files: convert between formats, prune straight to a .gguf, and
// info / eval / generate reading one (its vocabulary comes from the file itself).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from '../src/cli/main.js';
import { bundled, packageRoot } from '../src/paths.js';

const bin = path.join(packageRoot(), 'bin', 'slimllm.js');
const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!);

describe('slimllm CLI with GGUF', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-cli-gguf-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const calib = path.join(tmp, 'calib.json');
  const all = JSON.parse(fs.readFileSync(new URL('./fixtures/stories260K-calib-32x128.json', import.meta.url), 'utf8'));
  fs.writeFileSync(calib, JSON.stringify(all.slice(0, 8)));
  const dense = path.join(tmp, 'dense.gguf');

  it('convert llama2c gguf takes the tokenizer found beside the model; generate reads the .gguf alone', () => {
    const c = run(['convert', 'llama2c', 'gguf', '--model', bundled.model(), '--out', dense]);
    expect(c.status, c.stderr).toBe(0);
    const g = run(['generate', '--model', dense, '--prompt', 'Once upon a time', '--tokens', '8', '--device', 'cpu']);
    expect(g.status, g.stderr).toBe(0);
    expect(g.stdout).toMatch(/^Once upon a time, there was a little girl/);
  });

  it('gguf → hf → gguf (q8_0) round trips through every writer; bad flags are one clear line', () => {
    const dir = path.join(tmp, 'from-gguf');
    expect(run(['convert', 'gguf', 'hf', '--model', dense, '--out', dir]).status).toBe(0);
    expect(fs.existsSync(path.join(dir, 'tokenizer.bin')) || fs.existsSync(path.join(dir, 'tokenizer.json'))).toBe(true);
    const q8 = path.join(tmp, 'q8.gguf');
    const r = run(['convert', 'hf', 'gguf', '--model', dir, '--out', q8, '--dtype', 'q8_0']);
    expect(r.status, r.stderr).toBe(0);
    const e = run(['eval', '--model', q8, '--text', bundled.stories(), '--stories', '1:3', '--device', 'cpu', '--json']);
    expect(e.status, e.stderr).toBe(0);
    expect(lastJson(e.stdout).ppl).toBeLessThan(20);

    const bad = run(['convert', 'hf', 'gguf', '--model', dir, '--out', path.join(tmp, 'x.gguf'), '--dtype', 'q4_k']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/dtype must be one of f32, f16, bf16, q8_0, not 'q4_k'/);
    const wrongFrom = run(['convert', 'llama2c', 'gguf', '--model', dir, '--out', path.join(tmp, 'y.gguf')]);
    expect(wrongFrom.stderr.trim()).toBe(`slimllm: ${dir}: is not a llama2c model (it looks like hf)`);
    const q8folder = run(['convert', 'gguf', 'hf', '--model', dense, '--out', path.join(tmp, 'z'), '--dtype', 'q8_0']);
    expect(q8folder.stderr).toMatch(/dtype Q8_0 is for GGUF files only/);
    const exists = run(['convert', 'llama2c', 'gguf', '--model', bundled.model(), '--out', dense]);
    expect(exists.stderr.trim()).toBe(`slimllm: ${dense}: exists; refusing to overwrite (choose another path or pass overwrite)`);
  });

  it('prune --format gguf writes the .gguf and its report beside it; info and eval read it', () => {
    const out = path.join(tmp, 'pruned.gguf');
    const r = run(['prune', '--model', dense, '--out', out, '--format', 'gguf', '--layer-ratio', '0.3', '--pruned-layers', '4', '--calib-tokens', calib, '--device', 'cpu', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(fs.readFileSync(path.join(tmp, 'pruned.report.json'), 'utf8'));
    expect(report.params.after).toBeLessThan(report.params.before);
    const info = lastJson(run(['info', '--model', out, '--json']).stdout);
    expect(info.architecture).toBe('deci');
    expect(info.decoderLinearParams).toBe(report.params.after);
    const e = run(['eval', '--model', out, '--text', bundled.stories(), '--stories', '1:3', '--device', 'cpu', '--json']);
    expect(e.status, e.stderr).toBe(0);
    const again = run(['prune', '--model', dense, '--out', out, '--layer-ratio', '0.3', '--calib-tokens', calib, '--device', 'cpu']);
    expect(again.stderr.trim()).toBe(`slimllm: ${out} exists: choose another --out (or pass --overwrite)`);
  });

  it('the command demo prints runs the .gguf in node-llama-cpp\'s CLI with exactly slimllm\'s continuation', () => {
    const out = path.join(tmp, 'pruned.gguf');
    // The printed command, with the client installed in interop/ instead of npx, on the CPU.
    const local = path.join(packageRoot(), 'interop', 'node_modules', '.bin', 'node-llama-cpp');
    const cmd = `${runCommand(out).replace('npx -y node-llama-cpp@3.21.1', local)} --gpu false`;
    const theirs = spawnSync('bash', ['-c', `${cmd} < /dev/null`], { encoding: 'utf8', timeout: 120_000 });
    expect(theirs.status, theirs.stderr).toBe(0);
    const plain = theirs.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    const completion = /Completion: (.*)/.exec(plain)?.[1];
    const ours = run(['generate', '--model', out, '--prompt', 'Once upon a time', '--tokens', '32', '--device', 'cpu']);
    expect(ours.status, ours.stderr).toBe(0);
    expect(completion).toBeDefined();
    expect(`Once upon a time${completion}`.trimEnd()).toBe(ours.stdout.trimEnd());
  });
});
