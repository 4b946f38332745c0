// Helpers shared by the benchmarks: a seeded RNG, medians, argument parsing, and memory probes.
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../src/paths.js';
import { seededRandom } from '../src/corpus.js';

/** The library's seeded uniform [0, 1) generator (Mulberry32): one definition for benches and calibration. */
export const rng = seededRandom;

/** 32-bit FNV-1a of a string, mixed with a seed: independent streams per tensor name. */
export function hashSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Standard normal sampler (Box–Muller, both values of each pair used). */
export function normalSampler(seed: number): () => number {
  const r = rng(seed);
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = Math.max(r(), 1e-12);
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u));
    spare = m * Math.sin(2 * Math.PI * v);
    return m * Math.cos(2 * Math.PI * v);
  };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Rounds for JSON output (ms to 0.1, MB to 0.1). */
export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** True when `metaUrl` is the script node was started with. */
export function isMain(metaUrl: string): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return metaUrl === pathToFileURL(fs.realpathSync(arg)).href;
  } catch {
    return false;
  }
}

/** `--key value` / `--flag` arguments into a map; unknown keys are rejected by the caller. */
export function parseFlags(argv: string[], known: Record<string, 'string' | 'boolean'>): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') continue;
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    let key = a.slice(2);
    let val: string | undefined;
    const eq = key.indexOf('=');
    if (eq >= 0) {
      val = key.slice(eq + 1);
      key = key.slice(0, eq);
    }
    const kind = known[key];
    if (!kind) throw new Error(`unknown option --${key} (known: ${Object.keys(known).map((k) => `--${k}`).join(' ')})`);
    if (kind === 'boolean') {
      out[key] = val === undefined ? true : val !== 'false';
      continue;
    }
    if (val === undefined) {
      val = argv[++i];
      if (val === undefined) throw new Error(`--${key} needs a value`);
    }
    out[key] = val;
  }
  return out;
}

export function intFlag(v: string | boolean | undefined, name: string, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${String(v)}`);
  return n;
}

export function numFlag(v: string | boolean | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${String(v)}`);
  return n;
}

export function choiceFlag<T extends string>(v: string | boolean | undefined, name: string, choices: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!choices.includes(v as T)) throw new Error(`--${name} must be one of ${choices.join('|')}, got ${String(v)}`);
  return v as T;
}

const MB = 2 ** 20;

export function rssMB(): number {
  return process.memoryUsage().rss / MB;
}

/** The kernel's peak-RSS high-water mark of this process (Linux VmHWM), or null elsewhere. */
export function vmHwmMB(): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0: `echo 5 > /proc/self/clear_refs`); false if unsupported. */
export function resetHwm(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Peak RSS over a stretch of work: the kernel's high-water mark where available (exact), and an
 * interval sample (every `everyMs`, only while the event loop turns) as a cross-check.
 */
export class RssPeak {
  private sampled = rssMB();
  private timer: NodeJS.Timeout;
  private hwmOk: boolean;

  constructor(everyMs = 50) {
    this.hwmOk = resetHwm();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  sample(): number {
    const r = rssMB();
    if (r > this.sampled) this.sampled = r;
    return r;
  }

  /** { hwm: kernel high-water mark (null if unavailable), sampled: max of the samples }. */
  peak(): { hwm: number | null; sampled: number } {
    this.sample();
    return { hwm: this.hwmOk ? vmHwmMB() : null, sampled: this.sampled };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

/**
 * Where a result came from: the git commit, whether the working tree had changes (`dirty`: the
 * numbers may not be reproducible from the commit alone), the command, Node and the date.
 */
export function provenance(): { commit: string | null; dirty: boolean | null; command: string; node: string; date: string } {
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: packageRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return null;
    }
  };
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return {
    commit: git(['rev-parse', 'HEAD']),
    dirty: status === null ? null : status.length > 0,
    command: `node ${process.argv.slice(1).map((a) => (/^[\w./:=@-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}`,
    node: process.version,
    date: new Date().toISOString(),
  };
}
