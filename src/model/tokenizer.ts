// Tokenizers: llama2.c's tokenizer.bin (sentencepiece-BPE pieces with scores) implemented exactly
// as run.c does it, and Hugging Face tokenizer.json through @huggingface/tokenizers.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';
import { GgufFile } from './gguf.js';
import { readWholeFile } from './open-file.js';
import { tokenizerFromGguf } from './gguf-tokenizer.js';

export interface EncodeOptions {
  /** Prepend BOS (default true, as run.c's generate and the perplexity protocol do). */
  bos?: boolean;
  /** Append EOS (default false). */
  eos?: boolean;
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  encode(text: string, opts?: EncodeOptions): number[];
  /** Text of a whole sequence; BOS/EOS are dropped, and it reads as if it followed BOS. */
  decode(ids: readonly number[]): string;
  /** Text of `id` following `prev` (-1: none), for streaming output. */
  decodeToken(prev: number, id: number): string;
}

const utf8 = new TextDecoder('utf-8');

/** A sentencepiece-BPE vocabulary: pieces with ' ' for '▁', as byte strings (one char per byte). */
export interface SpmVocab {
  pieces: string[];
  scores: Float32Array;
  bos: number;
  eos: number;
  /** Longest piece in bytes (llama2.c's header field). */
  maxTokenLength: number;
  /** Prepend the dummy-prefix space to non-empty text (run.c and sentencepiece do; default true). */
  addSpacePrefix?: boolean;
}

/**
 * llama2.c tokenizer.bin: int32 max_token_length, then per token float32 score, int32 byte length,
 * the bytes. Pieces use ' ' where sentencepiece has '▁'; ids 3..258 are the byte pieces <0x00>..<0xFF>.
 * The same algorithm runs any sentencepiece-BPE vocabulary (e.g. one read from a GGUF file): byte
 * fallback goes to whichever ids hold the pieces <0x00>..<0xFF>.
 */
export class Llama2cTokenizer implements Tokenizer {
  readonly bos: number;
  readonly eos: number;
  readonly maxTokenLength: number;
  /** Pieces as byte strings (one char per byte, latin1), so lookups compare raw bytes as run.c does. */
  readonly pieces: string[];
  readonly scores: Float32Array;
  private readonly ids = new Map<string, number>();
  /** Id of the byte piece <0xXX> for each byte (-1: none). */
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly addSpacePrefix: boolean;

  constructor(vocab: SpmVocab, readonly origin = 'tokenizer.bin') {
    this.pieces = vocab.pieces;
    this.scores = vocab.scores;
    this.bos = vocab.bos;
    this.eos = vocab.eos;
    this.maxTokenLength = vocab.maxTokenLength;
    this.addSpacePrefix = vocab.addSpacePrefix ?? true;
    // run.c finds pieces by binary search over a sorted copy; with no duplicate pieces (true of
    // sentencepiece vocabularies) a map gives the same answers.
    this.pieces.forEach((p, i) => {
      if (!this.ids.has(p)) this.ids.set(p, i);
      const m = /^<0x([0-9A-F]{2})>$/.exec(p);
      if (m && this.byteIds[parseInt(m[1], 16)] < 0) this.byteIds[parseInt(m[1], 16)] = i;
    });
  }

  /** Parses llama2.c's tokenizer.bin format (`origin` names it in messages). */
  static fromBytes(bytes: Uint8Array, origin = 'tokenizer.bin'): Llama2cTokenizer {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buf.length < 4) throw new Error(`${origin}: ${buf.length} bytes, too short for a llama2.c tokenizer`);
    const maxTokenLength = buf.readInt32LE(0);
    const pieces: string[] = [];
    const scores: number[] = [];
    let at = 4;
    while (at < buf.length) {
      if (at + 8 > buf.length) {
        throw new Error(`${origin}: token ${pieces.length}: score and length run past the end of the ${buf.length}-byte file (truncated?)`);
      }
      const score = buf.readFloatLE(at);
      const len = buf.readInt32LE(at + 4);
      at += 8;
      if (len < 0 || at + len > buf.length) {
        throw new Error(`${origin}: token ${pieces.length}: length ${len} runs past the end of the ${buf.length}-byte file (truncated?)`);
      }
      pieces.push(buf.toString('latin1', at, at + len));
      scores.push(score);
      at += len;
    }
    return new Llama2cTokenizer({ pieces, scores: Float32Array.from(scores), bos: 1, eos: 2, maxTokenLength }, origin);
  }

  static fromFile(file: string): Llama2cTokenizer {
    return Llama2cTokenizer.fromBytes(readWholeFile(file, 'llama2.c tokenizer'), file);
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  /** The id of a piece given as text (e.g. " Once"), or undefined. */
  pieceId(piece: string): number | undefined {
    return this.ids.get(Buffer.from(piece, 'utf8').toString('latin1'));
  }

  /**
   * run.c's encode(): optional BOS; a dummy-prefix " " token when the text is not empty; one
   * token per UTF-8 code point (its bytes + 3 when the code point is not a piece); then, while
   * any adjacent pair concatenates to a piece, merge the pair whose piece has the highest score
   * (the leftmost on ties). run.c rescans all pairs after each merge (quadratic); this keeps the
   * candidates in a heap ordered by (score desc, position asc), which picks the same pair each
   * step because merges never reorder tokens.
   */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    let bytes = Buffer.from(text, 'utf8');
    const nul = bytes.indexOf(0);
    if (nul >= 0) bytes = bytes.subarray(0, nul); // a C string ends at NUL
    const tokens: number[] = [];
    if (bytes.length > 0 && this.addSpacePrefix) {
      const dummy = this.ids.get(' ');
      if (dummy === undefined) throw new Error(`${this.origin}: no ' ' piece for the dummy prefix`);
      tokens.push(dummy);
    }
    let start = 0;
    for (let c = 0; c < bytes.length; c++) {
      if ((bytes[c] & 0xc0) !== 0x80) start = c; // not a continuation byte: a new code point
      const next = c + 1 < bytes.length ? bytes[c + 1] : 0;
      if ((next & 0xc0) === 0x80 && c + 1 - start < 4) continue;
      const id = this.ids.get(bytes.toString('latin1', start, c + 1));
      if (id !== undefined) tokens.push(id);
      else for (let k = start; k <= c; k++) tokens.push(this.byteToken(bytes[k]));
      start = c + 1;
    }
    const merged = this.mergePairs(tokens);
    if (opts.bos ?? true) merged.unshift(this.bos);
    if (opts.eos) merged.push(this.eos);
    return merged;
  }

  private byteToken(b: number): number {
    const id = this.byteIds[b];
    if (id < 0) throw new Error(`${this.origin}: no byte piece <0x${b.toString(16).toUpperCase().padStart(2, '0')}> for byte fallback`);
    return id;
  }

  private mergePairs(tokens: number[]): number[] {
    const n = tokens.length;
    if (n < 2) return tokens;
    const tok = Int32Array.from(tokens);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new PairHeap();
    // run.c starts best_score at -1e10 and needs a strictly higher score to merge.
    const consider = (left: number) => {
      const right = next[left];
      if (right < 0) return;
      const id = this.ids.get(this.pieces[tok[left]] + this.pieces[tok[right]]);
      if (id !== undefined && this.scores[id] > -1e10) heap.push(this.scores[id], left, right, tok[left], tok[right], id);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    for (;;) {
      const e = heap.pop();
      if (!e) break;
      const { left, right } = e;
      // Stale entries: a side was merged away or changed since the pair was queued.
      if (!alive[left] || !alive[right] || next[left] !== right || tok[left] !== e.leftTok || tok[right] !== e.rightTok) continue;
      tok[left] = e.id;
      alive[right] = 0;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      if (prev[left] >= 0) consider(prev[left]);
      consider(left);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(tok[i]);
    return out;
  }

  /** run.c's decode(): the piece's bytes, minus a leading space after BOS; <0xXX> is that byte. */
  decodeBytes(prev: number, id: number): Uint8Array {
    if (!(id >= 0 && id < this.pieces.length)) throw new Error(`${this.origin}: token id ${id} out of range (vocab ${this.pieces.length})`);
    let piece = this.pieces[id];
    if (prev === this.bos && piece.startsWith(' ')) piece = piece.slice(1);
    const m = /^<0x([0-9A-Fa-f]{1,2})>/.exec(piece);
    if (m) return Uint8Array.of(parseInt(m[1], 16));
    return Buffer.from(piece, 'latin1');
  }

  decodeToken(prev: number, id: number): string {
    return utf8.decode(this.decodeBytes(prev, id));
  }

  decode(ids: readonly number[]): string {
    const parts: Uint8Array[] = [];
    let prev = this.bos;
    for (const id of ids) {
      if (id !== this.bos && id !== this.eos) parts.push(this.decodeBytes(prev, id));
      prev = id;
    }
    // Byte pieces of one code point arrive in separate tokens: join before decoding UTF-8.
    return utf8.decode(Buffer.concat(parts));
  }
}

/** Max-heap of merge candidates by score, then leftmost position. */
class PairHeap {
  private readonly items: { score: number; left: number; right: number; leftTok: number; rightTok: number; id: number }[] = [];

  private before(a: number, b: number): boolean {
    const x = this.items[a];
    const y = this.items[b];
    return x.score > y.score || (x.score === y.score && x.left < y.left);
  }

  push(score: number, left: number, right: number, leftTok: number, rightTok: number, id: number): void {
    const it = this.items;
    it.push({ score, left, right, leftTok, rightTok, id });
    let i = it.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      [it[i], it[p]] = [it[p], it[i]];
      i = p;
    }
  }

  pop() {
    const it = this.items;
    if (it.length === 0) return undefined;
    const top = it[0];
    const last = it.pop()!;
    if (it.length > 0) {
      it[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < it.length && this.before(l, m)) m = l;
        if (r < it.length && this.before(r, m)) m = r;
        if (m === i) break;
        [it[i], it[m]] = [it[m], it[i]];
        i = m;
      }
    }
    return top;
  }
}

/** Hugging Face tokenizer.json (with tokenizer_config.json beside it when present). */
export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;

  constructor(
    private readonly tok: HfTokenizerImpl,
    ids: { bos: number; eos: number },
    readonly origin = 'tokenizer.json',
  ) {
    let max = -1;
    for (const id of tok.get_vocab(true).values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
    this.bos = ids.bos;
    this.eos = ids.eos;
  }

  /**
   * `ids` overrides BOS/EOS; otherwise they come from tokenizer_config.json's bos_token /
   * eos_token, else from the usual piece names, else from `fallback` (e.g. the model config's).
   */
  static fromFile(file: string, ids?: { bos?: number; eos?: number }, fallback?: { bos: number; eos: number }): HfTokenizer {
    const { json, cfg } = readTokenizerJson(file);
    return HfTokenizer.fromParsed(json, cfg, file, ids, fallback);
  }

  /** As fromFile, from a tokenizer.json and its tokenizer_config.json already parsed. */
  static fromParsed(
    json: object,
    cfg: Record<string, unknown>,
    file: string,
    ids?: { bos?: number; eos?: number },
    fallback?: { bos: number; eos: number },
  ): HfTokenizer {
    const tok = new HfTokenizerImpl(json, cfg);
    const special = (key: string, fallbacks: string[]): number | undefined => {
      const v = cfg[key];
      const name = typeof v === 'string' ? v : (v as { content?: unknown } | undefined)?.content;
      for (const n of typeof name === 'string' ? [name] : fallbacks) {
        const id = tok.token_to_id(n);
        if (id !== undefined) return id;
      }
      return undefined;
    };
    const bos = ids?.bos ?? special('bos_token', ['<s>', '<|begin_of_text|>', '<|startoftext|>']) ?? fallback?.bos;
    const eos = ids?.eos ?? special('eos_token', ['</s>', '<|end_of_text|>', '<|endoftext|>']) ?? fallback?.eos;
    if (bos === undefined || eos === undefined) {
      throw new Error(`${file}: cannot tell the ${bos === undefined ? 'BOS' : 'EOS'} token (no tokenizer_config.json naming it); pass its id`);
    }
    return new HfTokenizer(tok, { bos, eos }, file);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    // Special tokens are added here, not by the tokenizer's post-processor, so that `bos`/`eos`
    // mean the same for every tokenizer.
    const ids = this.tok.encode(text, { add_special_tokens: false }).ids;
    if (opts.bos ?? true) ids.unshift(this.bos);
    if (opts.eos) ids.push(this.eos);
    return ids;
  }

  decode(ids: readonly number[]): string {
    return this.tok.decode([...ids], { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  }

  /** The text `id` adds after `prev`: decoders strip or merge across tokens, so decode both. */
  decodeToken(prev: number, id: number): string {
    if (prev < 0) return this.decode([id]);
    const before = this.decode([prev]);
    const both = this.decode([prev, id]);
    return both.startsWith(before) ? both.slice(before.length) : this.decode([id]);
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read as JSON (${(e as Error).message})`);
  }
}

/** A tokenizer.json and the tokenizer_config.json beside it ({} when there is none), parsed. */
export function readTokenizerJson(file: string): { json: object; cfg: Record<string, unknown> } {
  const cfgFile = path.join(path.dirname(file), 'tokenizer_config.json');
  return { json: readJson(file) as object, cfg: (fs.existsSync(cfgFile) ? readJson(cfgFile) : {}) as Record<string, unknown> };
}

/**
 * A tokenizer from a file (.json: Hugging Face; .bin: llama2.c; .gguf: the vocabulary in its
 * metadata) or a model folder holding
 * tokenizer.bin, tok*.bin or tokenizer.json.
 */
export function loadTokenizer(p: string): Tokenizer {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) throw new Error(`${p}: no such file or folder`);
  if (st.isDirectory()) {
    const found = findTokenizerFile(p);
    if (!found) throw new Error(`${p}: no tokenizer.json, tokenizer.bin or tok*.bin in this folder`);
    return loadTokenizer(found);
  }
  if (p.endsWith('.json')) return HfTokenizer.fromFile(p);
  if (p.endsWith('.bin')) return Llama2cTokenizer.fromFile(p);
  if (p.endsWith('.gguf')) {
    const g = GgufFile.open(p);
    try {
      return tokenizerFromGguf(g);
    } finally {
      g.close();
    }
  }
  throw new Error(`${p}: unknown tokenizer format (expected tokenizer.json, a llama2.c tokenizer .bin or a .gguf model)`);
}

/**
 * The tokenizer file that goes with a model path: a .gguf file carries its own vocabulary;
 * otherwise the one inside the folder or beside the file (see findTokenizerFile), or null.
 */
export function tokenizerFileFor(modelPath: string): string | null {
  const st = fs.statSync(modelPath, { throwIfNoEntry: false });
  if (st?.isFile() && modelPath.endsWith('.gguf')) return modelPath;
  return findTokenizerFile(st?.isDirectory() ? modelPath : path.dirname(modelPath));
}

/**
 * The tokenizer file inside a model folder, or null. A llama2.c vocabulary wins over a
 * tokenizer.json beside it: the JSON is derived from it (see tokenizer-export.ts), and run.c's
 * algorithm is the reference.
 */
export function findTokenizerFile(dir: string): string | null {
  if (fs.existsSync(path.join(dir, 'tokenizer.bin'))) return path.join(dir, 'tokenizer.bin');
  const tok = fs.readdirSync(dir).filter((f) => /^tok.*\.bin$/.test(f)).sort();
  if (tok.length > 0) return path.join(dir, tok[0]);
  if (fs.existsSync(path.join(dir, 'tokenizer.json'))) return path.join(dir, 'tokenizer.json');
  return null;
}
