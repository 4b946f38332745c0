// An interrupted run leaves nothing behind: SIGINT / SIGTERM during a prune remove its work folder
// and its half-made output; a run killed outright (SIGKILL) leaves its pid-named work folder, which
// the next run removes.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveModel } from '../src/model/writer.js';
import { bundled, packageRoot } from '../src/paths.js';
import { syntheticModel } from './synthetic-model.js';

const bin = path.join(packageRoot(), 'bin', 'slimllm.js');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-interrupt-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const calib = path.join(root, 'calib.json');
fs.copyFileSync(new URL('./fixtures/stories260K-calib-32x128.json', import.meta.url), calib);

/** Starts a prune into `dir` (its own TMPDIR) and sends `signal` once layer 2's work has begun. */
function pruneAndSignal(dir: string, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp, { recursive: true });
  const args = [bin, 'prune', '--model', bundled.model(), '--out', path.join(dir, 'out'), '--layer-ratio', '0.3', '--calib-tokens', calib, '--device', 'cpu'];
  const child = spawn(process.execPath, args, { env: { ...process.env, TMPDIR: tmp } });
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (d) => {
    stderr += String(d);
    if (!sent && /layer 2: attention/.test(stderr)) {
      sent = true;
      expect(fs.readdirSync(tmp).some((n) => n.startsWith('slimllm-layers-'))).toBe(true); // work in progress
      child.kill(signal);
    }
  });
  return new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, signal: sig, stderr })));
}

describe('interrupted runs', () => {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} during a prune removes its work folder and output`, async () => {
      const dir = path.join(root, signal);
      const r = await pruneAndSignal(dir, signal);
      expect(r.code, r.stderr).toBe(code);
      expect(fs.readdirSync(path.join(dir, 'tmp'))).toEqual([]);
      expect(fs.readdirSync(dir)).toEqual(['tmp']); // no out/, no hidden temporary
    }, 120_000);
  }

  it('a run killed outright leaves its pid-named work folder; the next run removes it', async () => {
    const dir = path.join(root, 'kill');
    const r = await pruneAndSignal(dir, 'SIGKILL');
    expect(r.signal).toBe('SIGKILL');
    const tmp = path.join(dir, 'tmp');
    const left = fs.readdirSync(tmp);
    expect(left.length).toBe(1);
    expect(left[0]).toMatch(/^slimllm-layers-\d+-/);
    const next = spawnSync(process.execPath, [bin, 'prune', '--model', bundled.model(), '--out', path.join(dir, 'out2'), '--layer-ratio', '0.1', '--calib-tokens', calib, '--device', 'cpu'], {
      env: { ...process.env, TMPDIR: tmp },
      encoding: 'utf8',
    });
    expect(next.status, next.stderr).toBe(0);
    expect(fs.readdirSync(tmp)).toEqual([]);
  }, 120_000);

  it('SIGINT during a save (convert) leaves no output and no temporary', async () => {
    const dir = path.join(root, 'save');
    const src = path.join(dir, 'big');
    const shape = { nHeads: 8, nKvHeads: 4, ffnDim: 2048, oBias: false, downBias: false };
    saveModel(syntheticModel([shape, shape, shape, shape], { hiddenSize: 512, headDim: 64, vocabSize: 4096 }), src);
    const out = path.join(dir, 'big.gguf');
    const child = spawn(process.execPath, [bin, 'convert', 'hf', 'gguf', '--model', src, '--out', out]);
    let stderr = '';
    const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.stderr.on('data', (d) => {
      stderr += String(d);
      if (stderr.includes(`writing ${out}`)) child.kill('SIGINT');
    });
    expect(await done, stderr).toBe(130);
    expect(fs.readdirSync(dir)).toEqual(['big']);
  }, 120_000);
});
