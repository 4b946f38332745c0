// Tokenizers in GGUF metadata (llama.cpp's `tokenizer.ggml.*` keys), both ways.
//
// Two vocabulary kinds, as llama.cpp names them:
//  - "llama": sentencepiece-BPE. Pieces with '▁' for spaces, a score per piece (llama.cpp, like
//    run.c, repeatedly merges the adjacent pair whose merged piece scores highest) and a type per
//    piece (1 normal, 2 unknown, 3 control, 6 byte <0xXX>). From a llama2.c tok*.bin the scores
//    are its own; from a sentencepiece-style tokenizer.json (BPE with byte fallback) the merged
//    piece of the merge ranked r scores -r, so that highest score = first merge, and pieces no
//    merge produces score -1e10 (run.c never merges into those).
//  - "gpt2": byte-level BPE (Llama 3 style tokenizer.json): pieces in the byte-to-unicode alphabet,
//    the merges list, and `tokenizer.ggml.pre` naming the pre-tokenizer regex. Only regexes
//    llama.cpp knows by name are written (GPT-2's, Llama 3's, Qwen2's); another would tokenize
//    differently there, so it is refused. llama.cpp applies no normalizer: a tokenizer.json's NFC
//    (Qwen's) is the identity on NFC text, and text that is not NFC tokenizes as llama.cpp does.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';
import { type GgufEntry, GgufFile, GgufType, describeValue } from './gguf.js';
import { HfTokenizer, Llama2cTokenizer, readTokenizerJson, type Tokenizer } from './tokenizer.js';
import { writeHfTokenizerFiles } from './tokenizer-export.js';

const SPACE = '\u2581'; // ▁
const NO_MERGE_SCORE = -1e10;

enum TokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

/** Pre-tokenizer regexes llama.cpp knows, by the name `tokenizer.ggml.pre` gives them. */
export const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Qwen2's (and Qwen3's): Llama 3's with digits one at a time. */
export const QWEN2_REGEX = LLAMA3_REGEX.replace('\\p{N}{1,3}', '\\p{N}');
const PRE_REGEX: Record<string, string> = { 'llama-bpe': LLAMA3_REGEX, llama3: LLAMA3_REGEX, 'llama-v3': LLAMA3_REGEX, qwen2: QWEN2_REGEX };

const BYTE_PIECE = /^<0x[0-9A-F]{2}>$/;

const str = (value: string | Uint8Array): GgufEntry => ({ type: GgufType.STRING, value });
const u32 = (value: number): GgufEntry => ({ type: GgufType.UINT32, value });
const bool = (value: boolean): GgufEntry => ({ type: GgufType.BOOL, value });
const strArray = (value: readonly (string | Uint8Array)[]): GgufEntry => ({ type: GgufType.ARRAY, elemType: GgufType.STRING, value });

interface SpecialIds {
  bos: number;
  eos: number;
  unk: number | null;
  addBos: boolean;
}

function specialEntries(s: SpecialIds): [string, GgufEntry][] {
  const e: [string, GgufEntry][] = [
    ['tokenizer.ggml.bos_token_id', u32(s.bos)],
    ['tokenizer.ggml.eos_token_id', u32(s.eos)],
    ['tokenizer.ggml.add_bos_token', bool(s.addBos)],
    ['tokenizer.ggml.add_eos_token', bool(false)],
  ];
  if (s.unk !== null) e.push(['tokenizer.ggml.unknown_token_id', u32(s.unk)]);
  return e;
}

/** Pads a vocabulary shorter than the model's (llama.cpp needs one piece per embedding row). */
function padTokens(tokens: (string | Uint8Array)[], types: number[], scores: number[] | null, vocabSize: number, file: string): void {
  if (tokens.length > vocabSize) throw new Error(`${file}: the tokenizer has ${tokens.length} tokens, the model's vocabulary only ${vocabSize}`);
  for (let i = tokens.length; i < vocabSize; i++) {
    tokens.push(`[PAD${i}]`);
    types.push(TokenType.UNUSED);
    scores?.push(NO_MERGE_SCORE);
  }
}

function spmEntries(tokens: (string | Uint8Array)[], scores: number[], types: number[], s: SpecialIds, vocabSize: number, file: string) {
  padTokens(tokens, types, scores, vocabSize, file);
  return new Map<string, GgufEntry>([
    ['tokenizer.ggml.model', str('llama')],
    ['tokenizer.ggml.tokens', strArray(tokens)],
    ['tokenizer.ggml.scores', { type: GgufType.ARRAY, elemType: GgufType.FLOAT32, value: Float32Array.from(scores) }],
    ['tokenizer.ggml.token_type', { type: GgufType.ARRAY, elemType: GgufType.INT32, value: Int32Array.from(types) }],
    ['tokenizer.ggml.add_space_prefix', bool(true)],
    ...specialEntries(s),
  ]);
}

/** GGUF metadata for a llama2.c tokenizer (pieces are raw bytes; ' ' becomes '▁'). */
function llama2cEntries(tok: Llama2cTokenizer, vocabSize: number, file: string): Map<string, GgufEntry> {
  const space = Buffer.from(SPACE, 'utf8');
  const tokens: (string | Uint8Array)[] = [];
  const types: number[] = [];
  tok.pieces.forEach((p, i) => {
    const special = i === 0 || i === tok.bos || i === tok.eos;
    // llama2.c's export keeps sentencepiece's specials as "<unk>", "\n<s>\n", "\n</s>\n": the
    // standard names go in the GGUF (they are never produced from text either way).
    const name = i === 0 ? '<unk>' : i === tok.bos ? '<s>' : i === tok.eos ? '</s>' : null;
    if (name !== null) tokens.push(name);
    else {
      const bytes = Buffer.from(p, 'latin1');
      const parts: Buffer[] = [];
      let from = 0;
      for (let k = 0; k < bytes.length; k++) {
        if (bytes[k] === 0x20) {
          parts.push(bytes.subarray(from, k), space);
          from = k + 1;
        }
      }
      parts.push(bytes.subarray(from));
      tokens.push(Buffer.concat(parts));
    }
    types.push(i === 0 ? TokenType.UNKNOWN : special ? TokenType.CONTROL : BYTE_PIECE.test(p) ? TokenType.BYTE : TokenType.NORMAL);
  });
  return spmEntries(tokens, Array.from(tok.scores), types, { bos: tok.bos, eos: tok.eos, unk: 0, addBos: true }, vocabSize, file);
}

interface HfJson {
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[]; byte_fallback?: boolean; unk_token?: string | null };
  added_tokens?: { id: number; content: string; special?: boolean }[];
  pre_tokenizer?: unknown;
  decoder?: unknown;
}

/** Every {type, …} object nested in a pre-tokenizer / decoder description. */
function components(x: unknown): Record<string, unknown>[] {
  if (typeof x !== 'object' || x === null) return [];
  if (Array.isArray(x)) return x.flatMap(components);
  const o = x as Record<string, unknown>;
  return [o, ...Object.values(o).flatMap(components)];
}

/** llama.cpp's name for a byte-level tokenizer's pre-tokenizer, or an error naming what it is. */
function preTokenizerName(j: HfJson, file: string): string {
  const parts = components(j.pre_tokenizer);
  const split = parts.find((p) => p.type === 'Split');
  const byteLevel = parts.find((p) => p.type === 'ByteLevel');
  if (split) {
    const regex = (split.pattern as { Regex?: unknown } | undefined)?.Regex;
    if (regex === LLAMA3_REGEX) return 'llama-bpe';
    if (regex === QWEN2_REGEX) return 'qwen2';
    throw new Error(`${file}: pre-tokenizer regex ${JSON.stringify(regex)} is not one llama.cpp knows by name (Llama 3's, Qwen2's or GPT-2's); its GGUF would tokenize differently there`);
  }
  if (byteLevel && byteLevel.use_regex !== false) return 'gpt2';
  throw new Error(`${file}: byte-level pre-tokenizer without a regex llama.cpp knows (Llama 3's, Qwen2's or GPT-2's)`);
}

/** Pieces of a tokenizer.json by id: its vocab plus added tokens. */
function hfPieces(j: HfJson, file: string): { pieces: string[]; added: Map<number, boolean> } {
  const vocab = j.model?.vocab;
  if (typeof vocab !== 'object' || vocab === null) throw new Error(`${file}: model.vocab is missing`);
  const pieces: string[] = [];
  for (const [p, id] of Object.entries(vocab)) pieces[id] = p;
  const added = new Map<number, boolean>();
  for (const t of j.added_tokens ?? []) {
    pieces[t.id] = t.content;
    added.set(t.id, t.special === true);
  }
  for (let i = 0; i < pieces.length; i++) if (pieces[i] === undefined) throw new Error(`${file}: no token with id ${i} (ids must be contiguous)`);
  return { pieces, added };
}

function mergeStrings(j: HfJson): string[] {
  return (j.model?.merges ?? []).map((m) => (Array.isArray(m) ? m.join(' ') : m));
}

function hfEntries(file: string, vocabSize: number, modelIds: { bos: number; eos: number }): Map<string, GgufEntry> {
  const { json, cfg } = readTokenizerJson(file);
  const j = json as HfJson;
  if (j.model?.type !== 'BPE') throw new Error(`${file}: model.type ${JSON.stringify(j.model?.type)}: only BPE tokenizers can be written to GGUF`);
  // A tokenizer without a BOS token (Qwen's) takes the model config's, as llama.cpp's converter does.
  const hf = HfTokenizer.fromParsed(json, cfg, file, undefined, modelIds);
  const { pieces, added } = hfPieces(j, file);
  const unkPiece = j.model.unk_token;
  const unk = typeof unkPiece === 'string' ? pieces.indexOf(unkPiece) : -1;
  const special: SpecialIds = { bos: hf.bos, eos: hf.eos, unk: unk >= 0 ? unk : null, addBos: cfg.add_bos_token !== false };
  const merges = mergeStrings(j);
  const byteLevel = components(j.pre_tokenizer).some((p) => p.type === 'ByteLevel');

  if (byteLevel) {
    const types = pieces.map((_, i) => (added.has(i) ? (added.get(i) ? TokenType.CONTROL : TokenType.USER_DEFINED) : TokenType.NORMAL));
    const tokens: (string | Uint8Array)[] = [...pieces];
    padTokens(tokens, types, null, vocabSize, file);
    return new Map<string, GgufEntry>([
      ['tokenizer.ggml.model', str('gpt2')],
      ['tokenizer.ggml.pre', str(preTokenizerName(j, file))],
      ['tokenizer.ggml.tokens', strArray(tokens)],
      ['tokenizer.ggml.token_type', { type: GgufType.ARRAY, elemType: GgufType.INT32, value: Int32Array.from(types) }],
      ['tokenizer.ggml.merges', strArray(merges)],
      ...specialEntries(special),
    ]);
  }
  if (j.model.byte_fallback !== true) {
    throw new Error(`${file}: a BPE tokenizer that is neither byte-level nor sentencepiece-style (byte_fallback) cannot be written to GGUF`);
  }
  const id = new Map(pieces.map((p, i) => [p, i]));
  const scores = pieces.map(() => NO_MERGE_SCORE);
  merges.forEach((m, r) => {
    const k = m.indexOf(' ');
    const to = id.get(m.slice(0, k) + m.slice(k + 1));
    if (to !== undefined && scores[to] === NO_MERGE_SCORE) scores[to] = -r;
  });
  const types = pieces.map((p, i) =>
    i === special.unk ? TokenType.UNKNOWN : added.get(i) ? TokenType.CONTROL : BYTE_PIECE.test(p) ? TokenType.BYTE : TokenType.NORMAL,
  );
  return spmEntries([...pieces], scores, types, special, vocabSize, file);
}

/**
 * `tokenizer.ggml.*` metadata for a tokenizer file (llama2.c .bin or tokenizer.json), checked
 * against the model's vocabulary size.
 */
export function ggufTokenizerEntries(file: string, vocabSize: number, modelIds: { bos: number; eos: number }): Map<string, GgufEntry> {
  if (file.endsWith('.json')) return hfEntries(file, vocabSize, modelIds);
  if (file.endsWith('.gguf')) return copiedEntries(file, vocabSize);
  const tok = Llama2cTokenizer.fromFile(file);
  return llama2cEntries(tok, vocabSize, file);
}

/** The `tokenizer.ggml.*` entries of another GGUF file (e.g. the model a pruned one came from). */
function copiedEntries(file: string, vocabSize: number): Map<string, GgufEntry> {
  const g = GgufFile.open(file);
  try {
    const n = g.stringArray('tokenizer.ggml.tokens').length;
    if (n !== vocabSize) throw new Error(`${file}: its vocabulary has ${n} tokens, the model ${vocabSize}`);
    return new Map([...g.metadata].filter(([k]) => k.startsWith('tokenizer.')) as [string, GgufEntry][]);
  } finally {
    g.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

/** The tokenizer a GGUF file describes ("llama" or "gpt2" vocabularies). */
export function tokenizerFromGguf(g: GgufFile): Tokenizer {
  const model = g.str('tokenizer.ggml.model');
  const tokens = g.stringArray('tokenizer.ggml.tokens');
  const n = tokens.length;
  const bos = g.tokenId('tokenizer.ggml.bos_token_id', n, 1);
  const eos = g.tokenId('tokenizer.ggml.eos_token_id', n, 2);
  if (model === 'llama') {
    const scores = g.numberArray('tokenizer.ggml.scores', n);
    const pieces = tokens.map((t) => Buffer.from(t.replaceAll(SPACE, ' '), 'utf8').toString('latin1'));
    const maxTokenLength = pieces.reduce((a, p) => Math.max(a, p.length), 0);
    const prefix = g.metadata.get('tokenizer.ggml.add_space_prefix');
    const addSpacePrefix = prefix === undefined || prefix.value !== false;
    return new Llama2cTokenizer({ pieces, scores: Float32Array.from(scores), bos, eos, maxTokenLength, addSpacePrefix }, g.file);
  }
  if (model === 'gpt2') return gpt2Tokenizer(g, tokens, bos, eos);
  throw new Error(`${g.file}: metadata 'tokenizer.ggml.model' is ${JSON.stringify(model)}; slimllm reads "llama" (sentencepiece) and "gpt2" (byte-level BPE)`);
}

function gpt2Tokenizer(g: GgufFile, tokens: string[], bos: number, eos: number): Tokenizer {
  return new HfTokenizer(new HfTokenizerImpl(gpt2TokenizerJson(g, tokens), {}), { bos, eos }, g.file);
}

/** A tokenizer.json equivalent to a "gpt2" GGUF vocabulary. */
function gpt2TokenizerJson(g: GgufFile, tokens: string[]): object {
  const preV = g.metadata.get('tokenizer.ggml.pre');
  const pre = preV?.type === GgufType.STRING ? (preV.value as string) : undefined;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: pre === 'gpt2' };
  let preTokenizer: object;
  if (pre === 'gpt2') preTokenizer = byteLevel;
  else if (pre !== undefined && pre in PRE_REGEX) {
    preTokenizer = {
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { Regex: PRE_REGEX[pre] }, behavior: 'Isolated', invert: false }, byteLevel],
    };
  } else throw new Error(`${g.file}: metadata 'tokenizer.ggml.pre' is ${preV ? describeValue(preV) : 'missing'}; slimllm reads "gpt2", "llama-bpe" and "qwen2"`);
  const types = g.numberArray('tokenizer.ggml.token_type', tokens.length);
  const vocab: Record<string, number> = {};
  const added: object[] = [];
  tokens.forEach((t, i) => {
    if (types[i] === TokenType.CONTROL || types[i] === TokenType.USER_DEFINED) {
      added.push({ id: i, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: types[i] === TokenType.CONTROL });
    }
    if (!(t in vocab)) vocab[t] = i;
  });
  return {
    version: '1.0',
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: preTokenizer,
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: pre !== 'gpt2', vocab, merges: g.stringArray('tokenizer.ggml.merges') },
  };
}

/** llama2.c's tokenizer.bin bytes for a sentencepiece vocabulary. */
export function llama2cTokenizerBytes(tok: Llama2cTokenizer): Buffer {
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0].writeInt32LE(tok.maxTokenLength);
  tok.pieces.forEach((p, i) => {
    const head = Buffer.alloc(8);
    head.writeFloatLE(tok.scores[i], 0);
    head.writeInt32LE(p.length, 4);
    parts.push(head, Buffer.from(p, 'latin1'));
  });
  return Buffer.concat(parts);
}

/**
 * Writes the vocabulary of a GGUF file into a model folder: a "llama" one as llama2.c's
 * tokenizer.bin plus the equivalent tokenizer.json, a "gpt2" one as tokenizer.json, each with
 * its tokenizer_config.json.
 */
export function writeTokenizerFilesFromGguf(file: string, dir: string): void {
  const g = GgufFile.open(file);
  try {
    const tok = tokenizerFromGguf(g);
    if (tok instanceof Llama2cTokenizer) {
      fs.writeFileSync(path.join(dir, 'tokenizer.bin'), llama2cTokenizerBytes(tok));
      writeHfTokenizerFiles(tok, dir);
      return;
    }
    const tokens = g.stringArray('tokenizer.ggml.tokens');
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(gpt2TokenizerJson(g, tokens)));
    const cfg = { tokenizer_class: 'PreTrainedTokenizerFast', bos_token: tokens[tok.bos], eos_token: tokens[tok.eos], clean_up_tokenization_spaces: false };
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
  } finally {
    g.close();
  }
}
