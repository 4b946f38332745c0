// Tokenizers: llama2.c's tokenizer.bin against run.c's algorithm, and the tokenizer.json derived
// from it through @huggingface/tokenizers.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HfTokenizer, Llama2cTokenizer, loadTokenizer } from '../src/model/tokenizer.js';
import { writeHfTokenizerFiles } from '../src/model/tokenizer-export.js';

const TOK = 'assets/stories260K/tok512.bin';
const STORIES = fs
  .readFileSync('assets/tinystories/tinystories_valid_first1000.txt', 'utf8')
  .split('<|endoftext|>')
  .map((s) => s.trim())
  .filter((s) => s.length > 0);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-tok-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** run.c's encode() transcribed literally (quadratic rescans), as the reference. */
function runcEncode(t: Llama2cTokenizer, text: string, bos: boolean): number[] {
  const lookup = new Map<string, number>();
  t.pieces.forEach((p, i) => lookup.has(p) || lookup.set(p, i));
  const bytes = Buffer.from(text, 'utf8');
  const tokens: number[] = [];
  if (bos) tokens.push(1);
  if (bytes.length > 0) tokens.push(lookup.get(' ')!);
  let buf: number[] = [];
  for (let c = 0; c < bytes.length; c++) {
    if ((bytes[c] & 0xc0) !== 0x80) buf = [];
    buf.push(bytes[c]);
    const next = c + 1 < bytes.length ? bytes[c + 1] : 0;
    if ((next & 0xc0) === 0x80 && buf.length < 4) continue;
    const id = lookup.get(Buffer.from(buf).toString('latin1'));
    if (id !== undefined) tokens.push(id);
    else for (const b of buf) tokens.push(b + 3);
    buf = [];
  }
  for (;;) {
    let best = -1e10;
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const id = lookup.get(t.pieces[tokens[i]] + t.pieces[tokens[i + 1]]);
      if (id !== undefined && t.scores[id] > best) {
        best = t.scores[id];
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    tokens[bestIdx] = bestId;
    tokens.splice(bestIdx + 1, 1);
  }
  return tokens;
}

describe('Llama2cTokenizer (run.c)', () => {
  const tok = Llama2cTokenizer.fromFile(TOK);

  it('reads the 512-piece vocabulary', () => {
    expect(tok.vocabSize).toBe(512);
    expect(tok.maxTokenLength).toBe(7);
    expect(tok.pieces[1]).toBe('\n<s>\n');
    expect(tok.pieces[3]).toBe('<0x00>');
    expect(tok.bos).toBe(1);
    expect(tok.eos).toBe(2);
  });

  it('encodes "Once upon a time" as llama2.c does', () => {
    expect(tok.encode('Once upon a time', { bos: true })).toEqual([1, 403, 407, 261, 378]);
    expect(tok.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]); // BOS by default
    expect(tok.encode('Once upon a time', { bos: false })).toEqual([403, 407, 261, 378]);
    expect(tok.encode('Once upon a time', { bos: true, eos: true })).toEqual([1, 403, 407, 261, 378, 2]);
  });

  it('adds no dummy prefix to empty text', () => {
    expect(tok.encode('')).toEqual([1]);
    expect(tok.encode('', { bos: false })).toEqual([]);
  });

  it('falls back to byte tokens (byte + 3) for code points not in the vocabulary', () => {
    expect(tok.pieceId('€')).toBe(503); // a multi-byte piece of its own
    expect(tok.encode('€', { bos: false })).toEqual([tok.pieceId(' '), 503]);
    expect(tok.pieceId('🙂')).toBeUndefined(); // F0 9F 99 82
    const ids = tok.encode('🙂', { bos: false });
    expect(ids).toEqual([tok.pieceId(' '), 0xf0 + 3, 0x9f + 3, 0x99 + 3, 0x82 + 3]);
    expect(tok.decode(ids)).toBe('🙂');
  });

  it('matches the literal run.c algorithm on 100 stories and odd text', () => {
    const texts = [...STORIES.slice(0, 100), '  two  spaces ', 'ünïcödé — 日本語 🙂\n\ttab', 'a', ' ', '\n'];
    for (const s of texts) expect(tok.encode(s, { bos: true })).toEqual(runcEncode(tok, s, true));
  });

  it('decodes like run.c and round-trips text', () => {
    expect(tok.decodeToken(1, 403)).toBe('Once'); // leading space stripped after BOS
    expect(tok.decodeToken(403, 407)).toBe(' upon');
    expect(tok.decodeToken(403, 0x0a + 3)).toBe('\n'); // <0x0A> is the raw byte
    expect(tok.decode([1, 403, 407, 261, 378, 2])).toBe('Once upon a time');
    for (const s of [...STORIES.slice(0, 200), 'ünïcödé — 日本語 🙂', 'x\n\ny']) {
      expect(tok.decode(tok.encode(s))).toBe(s);
      expect(tok.decode(tok.encode(s, { bos: false }))).toBe(s);
    }
  });

  it('rejects a truncated tokenizer file and out-of-range ids', () => {
    const bad = path.join(tmp, 'trunc.bin');
    fs.writeFileSync(bad, fs.readFileSync(TOK).subarray(0, 101));
    expect(() => Llama2cTokenizer.fromFile(bad)).toThrow(
      `${bad}: token 7: score and length run past the end of the 101-byte file (truncated?)`,
    );
    fs.writeFileSync(bad, fs.readFileSync(TOK).subarray(0, 110));
    expect(() => Llama2cTokenizer.fromFile(bad)).toThrow(`${bad}: token 7: length 6 runs past the end of the 110-byte file (truncated?)`);
    expect(() => tok.decodeToken(1, 512)).toThrow(`${TOK}: token id 512 out of range (vocab 512)`);
  });
});

describe('HfTokenizer (tokenizer.json derived from tok512.bin)', () => {
  const ref = Llama2cTokenizer.fromFile(TOK);
  const dir = path.join(tmp, 'hf');
  fs.mkdirSync(dir);
  writeHfTokenizerFiles(ref, dir);
  const hf = HfTokenizer.fromFile(path.join(dir, 'tokenizer.json'));

  it('knows the vocabulary and special ids', () => {
    expect(hf.vocabSize).toBe(512);
    expect(hf.bos).toBe(1);
    expect(hf.eos).toBe(2);
  });

  it('encodes exactly as run.c on 300 stories', () => {
    expect(hf.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    for (const s of [...STORIES.slice(0, 300), 'ünïcödé — 日本語 🙂\n\ttab', '  two  spaces ']) {
      expect(hf.encode(s, { bos: false })).toEqual(ref.encode(s, { bos: false }));
    }
  });

  it('decodes as run.c', () => {
    for (const s of [...STORIES.slice(0, 50), 'ünïcödé — 日本語 🙂']) {
      const ids = ref.encode(s);
      expect(hf.decode(ids)).toBe(ref.decode(ids));
    }
    expect(hf.decodeToken(1, 403)).toBe('Once');
    expect(hf.decodeToken(403, 407)).toBe(' upon');
  });
});

describe('loadTokenizer', () => {
  it('chooses by extension and by folder contents', () => {
    expect(loadTokenizer(TOK)).toBeInstanceOf(Llama2cTokenizer);
    const only = path.join(tmp, 'only-json');
    fs.mkdirSync(only);
    writeHfTokenizerFiles(Llama2cTokenizer.fromFile(TOK), only);
    expect(loadTokenizer(only)).toBeInstanceOf(HfTokenizer);
    expect(loadTokenizer(path.join(only, 'tokenizer.json'))).toBeInstanceOf(HfTokenizer);
    fs.copyFileSync(TOK, path.join(only, 'tok512.bin')); // the llama2.c original wins
    expect(loadTokenizer(only)).toBeInstanceOf(Llama2cTokenizer);
  });

  it('says what it expected', () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    expect(() => loadTokenizer(empty)).toThrow(`${empty}: no tokenizer.json, tokenizer.bin or tok*.bin in this folder`);
    expect(() => loadTokenizer(path.join(tmp, 'nope'))).toThrow(`${path.join(tmp, 'nope')}: no such file or folder`);
    const txt = path.join(tmp, 'vocab.txt');
    fs.writeFileSync(txt, 'x');
    expect(() => loadTokenizer(txt)).toThrow(`${txt}: unknown tokenizer format`);
  });
});
