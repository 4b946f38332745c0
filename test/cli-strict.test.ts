// Nothing wrong passes silently: impossible or conflicting options, files that are not what a flag
// expects, configs that cannot be right — each one clear line naming the flag, file, row or key,
// before any work is done.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveModel } from '../src/model/writer.js';
import { bundled, packageRoot } from '../src/paths.js';
import { syntheticModel } from './synthetic-model.js';

const bin = path.join(packageRoot(), 'bin', 'slimllm.js');
const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-strict-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI expecting failure; returns its one stderr line. */
function fails(args: string[]): string {
  const r = run(args);
  expect(r.status, r.stdout).toBe(1);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('Warning: '));
  expect(lines.length, r.stderr).toBe(1);
  return lines[0];
}

describe('CLI options and inputs are checked up front', () => {
  const calib = path.join(tmp, 'calib.json');
  fs.writeFileSync(calib, JSON.stringify([[1, 2, 3, 4]]));
  const text = bundled.stories();
  const model = bundled.model();

  it('impossible numbers and empty lists', () => {
    expect(fails(['eval', '--model', model, '--text', text, '--protocol', 'windows', '--seq-len', '0'])).toMatch(/--seq-len.*0 is below the smallest allowed, 2/);
    expect(fails(['eval', '--model', model, '--text', text, '--protocol', 'windows', '--seq-len', '1'])).toMatch(/1 is below the smallest allowed, 2/);
    expect(fails(['generate', '--model', model, '--tokens', '-1'])).toMatch(/--tokens.*-1 is below the smallest allowed, 1/);
    expect(fails(['compare', '--model', model, '--text', text, '--ratios', ''])).toMatch(/--ratios.*'' is an empty list/);
    expect(fails(['prune', '--model', model, '--out', path.join(tmp, 'p'), '--ratio', '', '--calib-tokens', calib])).toMatch(/--ratio.*'' is not a number/);
  });

  it('compare --draws takes a whole number of at least 1; default calibration stays clear of the evaluation stories', () => {
    expect(fails(['compare', '--model', model, '--text', text, '--draws', '0'])).toMatch(/--draws.*0 is below the smallest allowed, 1/);
    expect(fails(['compare', '--model', model, '--text', text, '--draws', '1.5'])).toMatch(/--draws.*'1.5' is not an integer/);
    expect(fails(['compare', '--model', model, '--text', text, '--draws', 'two'])).toMatch(/--draws.*'two' is not an integer/);
    expect(fails(['compare', '--model', model, '--text', text, '--stories', '1:600', '--out', path.join(tmp, 'cmp')])).toBe(
      'slimllm: --stories 1:600 reaches story 500, where the default calibration starts: pass --calib-text or end the evaluation stories before 500',
    );
  });

  it('compare passes --pruned-layers to the methods that read it, and refuses one below 1', () => {
    expect(fails(['compare', '--model', model, '--text', text, '--pruned-layers', '0'])).toMatch(/--pruned-layers.*0 is below the smallest allowed, 1/);
    const out = path.join(tmp, 'cmp-k');
    const r = run(['compare', '--model', model, '--text', text, '--stories', '1:3', '--ratios', '0.2', '--methods', 'obs,magnitude',
      '--calib-samples', '2', '--calib-len', '16', '--pruned-layers', '9', '--device', 'cpu', '--out', out, '--json']);
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { runs: { method: string; error?: string; ppl: number | null }[] };
    expect(res.runs.find((x) => x.method === 'obs')?.error).toMatch(/prunedLayers \(K\) = 9 exceeds the model's 5 layers/);
    expect(res.runs.find((x) => x.method === 'magnitude')?.ppl).toBeGreaterThan(1);
  });

  it('conflicting options are refused, not one silently dropped', () => {
    const out = path.join(tmp, 'c');
    expect(fails(['prune', '--model', model, '--out', out, '--ratio', '0.2', '--layer-ratio', '0.3', '--calib-tokens', calib])).toBe(
      'slimllm: --ratio and --layer-ratio both given: choose one (--ratio R solves p for a target; --layer-ratio P gives p)',
    );
    expect(fails(['prune', '--model', model, '--out', out, '--calib-text', text, '--calib-tokens', calib])).toBe('slimllm: --calib-text and --calib-tokens both given: choose one');
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a folder, a binary file or bad JSON where a file is expected: the file is named', () => {
    expect(fails(['eval', '--model', model, '--text', tmp])).toBe(`slimllm: ${tmp}: is a folder, not a text file`);
    const binary = path.join(tmp, 'random.bin.txt');
    fs.writeFileSync(binary, Buffer.from([0xff, 0xfe, 0x00, 0x81, 0x92]));
    expect(fails(['eval', '--model', model, '--text', binary])).toBe(`slimllm: ${binary}: not a UTF-8 text file`);
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, '[[1, 2');
    expect(fails(['prune', '--model', model, '--out', path.join(tmp, 'x'), '--calib-tokens', bad])).toMatch(new RegExp(`^slimllm: ${bad}: not valid JSON \\(`));
    fs.writeFileSync(bad, '[[1, 2.5, 3]]');
    expect(fails(['prune', '--model', model, '--out', path.join(tmp, 'x'), '--calib-tokens', bad])).toBe(`slimllm: ${bad}: row 0, position 1: 2.5 is not a token id`);
    expect(fails(['prune', '--model', model, '--out', path.join(tmp, 'x'), '--calib-tokens', tmp])).toBe(`slimllm: ${tmp}: is a folder, not a JSON file`);
  });

  it('an --out that cannot be written fails before the prune', () => {
    const t0 = Date.now();
    expect(fails(['prune', '--model', model, '--out', '/proc/slimllm-x', '--calib-tokens', calib])).toMatch(/^slimllm: --out \/proc\/slimllm-x: cannot write in \/proc \(/);
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'mine');
    expect(fails(['prune', '--model', model, '--out', file, '--calib-tokens', calib])).toBe(`slimllm: ${file}: exists and is not a folder: choose another --out (or --format gguf to write a file)`);
    expect(fails(['compare', '--model', model, '--text', text, '--out', file])).toBe(`slimllm: --out ${file}: exists and is not a folder`);
    expect(fs.readFileSync(file, 'utf8')).toBe('mine');
    expect(Date.now() - t0).toBeLessThan(30_000);
  });

  it('configs that cannot be right: absurd sizes, fewer layers than the checkpoint holds', () => {
    const dir = path.join(tmp, 'm');
    saveModel(syntheticModel([{ nHeads: 2, nKvHeads: 1, ffnDim: 8, oBias: false, downBias: false }, { nHeads: 2, nKvHeads: 1, ffnDim: 8, oBias: false, downBias: false }]), dir);
    const cfgFile = path.join(dir, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    const edit = (patch: Record<string, unknown>) => fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, ...patch }));
    edit({ num_hidden_layers: 2147483648 });
    expect(fails(['info', '--model', dir])).toBe(`slimllm: ${cfgFile}: num_hidden_layers 2147483648 is larger than 4096 (corrupt config?)`);
    edit({ hidden_size: 1e300 });
    expect(fails(['info', '--model', dir])).toBe(`slimllm: ${cfgFile}: hidden_size 1e+300 is larger than 16777216 (corrupt config?)`);
    fs.writeFileSync(cfgFile, JSON.stringify(cfg).replace('{', '{"hidden_size": 8,'));
    expect(fails(['info', '--model', dir])).toBe(`slimllm: ${cfgFile}: key "hidden_size" appears twice in one object`);
    edit({ num_hidden_layers: 1 });
    expect(fails(['info', '--model', dir])).toBe(`slimllm: ${path.join(dir, 'model.safetensors')}: tensor 'model.layers.1.input_layernorm.weight' belongs to layer 1, but num_hidden_layers is 1`);
  });

  it('a tokenizer with fewer tokens than the model\'s vocabulary is refused', () => {
    const tok = path.join(tmp, 'small-tok.bin');
    const full = fs.readFileSync(bundled.tokenizer());
    // Keep the header and the first 300 tokens.
    let at = 4;
    for (let i = 0; i < 300; i++) at += 8 + full.readInt32LE(at + 4);
    fs.writeFileSync(tok, full.subarray(0, at));
    expect(fails(['generate', '--model', model, '--tokenizer', tok, '--device', 'cpu'])).toBe(`slimllm: ${model}: the tokenizer has 300 tokens but the model's vocabulary is 512: they do not match`);
  });
});

describe('prune options: unknown, irrelevant and unreachable ones are refused', () => {
  it('API: a misspelled option, an option the method ignores, tokens and text together, an unreachable target', async () => {
    const { parsePruneOptions } = await import('../src/prune/options.js');
    const base = { layerRatio: 0.2, calibration: { tokens: [[1, 2]] } };
    expect(() => parsePruneOptions({ ...base, alhpa: 3 })).toThrow('invalid prune options: Unrecognized key: "alhpa"');
    expect(() => parsePruneOptions({ ...base, alpha: 3, method: 'flap' })).toThrow(
      "invalid prune options: alpha applies only to methods 'slimllm' and 'obs', not to method 'flap' with recovery 'bias'",
    );
    expect(() => parsePruneOptions({ ...base, lstsqDamping: 0.1 })).toThrow("lstsqDamping applies only to recovery 'lstsq' and method 'obs', not to method 'slimllm' with recovery 'regression'");
    expect(() => parsePruneOptions({ layerRatio: 0.2, calibration: { tokens: [[1, 2]], text: 'x' } })).toThrow('invalid prune options: calibration: give tokens or text, not both');
    const { solveP } = await import('../src/prune/ratios.js');
    const { loadModelWeights } = await import('../src/model/load.js');
    const c = loadModelWeights(bundled.model()).config;
    expect(() => solveP(c, (p) => c.layers.map((_, l) => (l === 0 ? 0 : p)), 0.95)).toThrow(/^targetRatio 0.95 cannot be reached: at most 0\.\d+ of the decoder's linear parameters/);
  });

  it('CLI: --alpha with --method flap, --seed with --calib-tokens', () => {
    const calib = path.join(tmp, 'calib2.json');
    fs.writeFileSync(calib, JSON.stringify([[1, 2, 3, 4]]));
    const out = path.join(tmp, 'never');
    expect(fails(['prune', '--model', bundled.model(), '--out', out, '--method', 'flap', '--alpha', '5', '--calib-tokens', calib, '--device', 'cpu'])).toBe(
      "slimllm: invalid prune options: alpha applies only to methods 'slimllm' and 'obs', not to method 'flap' with recovery 'bias'",
    );
    expect(fails(['prune', '--model', bundled.model(), '--out', out, '--seed', '3', '--calib-tokens', calib])).toBe(
      'slimllm: --calib-samples, --calib-len and --seed shape calibration drawn from --calib-text; --calib-tokens gives the ids themselves',
    );
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('readers name the file when it is a folder', () => {
  it('safetensors, GGUF, llama2.c checkpoint and tokenizer', async () => {
    const { SafetensorsFile } = await import('../src/model/safetensors.js');
    const { GgufFile } = await import('../src/model/gguf.js');
    const { openLlama2c } = await import('../src/model/llama2c.js');
    const { Llama2cTokenizer } = await import('../src/model/tokenizer.js');
    const d = path.join(tmp, 'a-folder.bin');
    fs.mkdirSync(d, { recursive: true });
    expect(() => SafetensorsFile.open(d)).toThrow(`${d}: is a folder, not a safetensors file`);
    expect(() => GgufFile.open(d)).toThrow(`${d}: is a folder, not a GGUF file`);
    expect(() => openLlama2c(d)).toThrow(`${d}: is a folder, not a llama2.c checkpoint file`);
    expect(() => Llama2cTokenizer.fromFile(d)).toThrow(`${d}: is a folder, not a llama2.c tokenizer file`);
    expect(() => SafetensorsFile.open(path.join(tmp, 'none.safetensors'))).toThrow(`${path.join(tmp, 'none.safetensors')}: no such file`);
  });
});
