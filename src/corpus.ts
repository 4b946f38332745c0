// Corpus utilities: documents of a text file, evaluation sequences (stories and windows
// protocols), seeded calibration windows and the seeded generator behind them. Every command that
// turns text into token sequences comes through here.
import type { Tokenizer } from './model/tokenizer.js';

/** Documents of a corpus file split on `<|endoftext|>`, trimmed, empty ones dropped. */
export function splitStories(text: string): string[] {
  return text
    .split('<|endoftext|>')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Parses a range 'a:b' (half-open, Python style). */
export function parseRange(spec: string, n: number): [number, number] {
  const m = /^(\d*):(\d*)$/.exec(spec.trim());
  if (!m) throw new Error(`range '${spec}' is not of the form a:b`);
  const a = m[1] === '' ? 0 : Number(m[1]);
  const bEnd = m[2] === '' ? n : Math.min(n, Number(m[2]));
  if (a >= bEnd) throw new Error(`range '${spec}' is empty for ${n} documents`);
  return [a, bEnd];
}

/** Stories protocol: per document [BOS] + encode(strip(doc)), truncated to maxLen. */
export function storiesSequences(tok: Tokenizer, text: string, range: string, maxLen: number): number[][] {
  const docs = splitStories(text);
  const [a, bEnd] = parseRange(range, docs.length);
  return docs.slice(a, bEnd).map((d) => tok.encode(d, { bos: true }).slice(0, maxLen));
}

/** Windows protocol: the whole text as one stream, cut into non-overlapping windows of seqLen tokens. */
export function windowSequences(tok: Tokenizer, text: string, seqLen: number): number[][] {
  if (!(Number.isInteger(seqLen) && seqLen >= 2)) throw new Error(`seqLen ${seqLen}: a window needs at least 2 tokens (one to predict from, one to score)`);
  const ids = tok.encode(text, { bos: true });
  const out: number[][] = [];
  for (let i = 0; i + seqLen <= ids.length; i += seqLen) out.push(ids.slice(i, i + seqLen));
  if (out.length === 0) throw new Error(`the text has ${ids.length} tokens, fewer than one window of ${seqLen}`);
  return out;
}

/** Mulberry32: a small seeded generator, so calibration is reproducible across runs and machines. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Calibration token windows: documents tokenised and concatenated, then `samples` windows of
 * `seqLen` tokens, each [BOS] + seqLen−1 tokens from a seeded position (as the paper's loaders do
 * with C4/WikiText).
 */
export function calibrationFromText(tok: Tokenizer, text: string, samples: number, seqLen: number, seed: number): number[][] {
  const stream: number[] = [];
  for (const doc of splitStories(text)) for (const id of tok.encode(doc, { bos: false })) stream.push(id);
  const body = seqLen - 1;
  if (stream.length < body) {
    throw new Error(`calibration text has ${stream.length} tokens, fewer than one window of ${seqLen}`);
  }
  const rand = seededRandom(seed);
  const out: number[][] = [];
  for (let i = 0; i < samples; i++) {
    const start = Math.floor(rand() * (stream.length - body + 1));
    out.push([tok.bos, ...stream.slice(start, start + body)]);
  }
  return out;
}

/** One calibration set of a repeated comparison and the seed it was drawn with (null: given as ids). */
export interface CalibrationDraw {
  seed: number | null;
  tokens: number[][];
}

/**
 * `draws` calibration sets from the same text: draw d uses seed `seed + d`, so a comparison run
 * again with the same seed and more draws repeats the earlier draws and adds new ones.
 */
export function calibrationDraws(tok: Tokenizer, text: string, samples: number, seqLen: number, seed: number, draws: number): CalibrationDraw[] {
  if (!(Number.isInteger(draws) && draws >= 1)) throw new Error(`draws ${draws}: need a whole number of at least 1`);
  return Array.from({ length: draws }, (_, d) => ({ seed: seed + d, tokens: calibrationFromText(tok, text, samples, seqLen, seed + d) }));
}
