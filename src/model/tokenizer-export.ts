// llama2.c tokenizer.bin → Hugging Face tokenizer.json + tokenizer_config.json, so that a model
// converted from llama2.c is a complete HF checkpoint.
//
// tokenizer.bin is a sentencepiece BPE vocabulary with ' ' for '▁'. The JSON is what
// Transformers' LlamaConverter produces for such a model: Prepend('▁') + Replace(' ', '▁')
// normalizer (run.c's dummy prefix), a BPE model with byte fallback whose merges are ranked by the
// merged piece's score, highest first (run.c merges the highest-scoring pair; splits of one piece
// are ordered as Transformers' SentencePieceExtractor orders them), and the matching decoder.
// run.c never merges into a piece scoring ≤ -1e10, so such pieces get no merge.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Llama2cTokenizer } from './tokenizer.js';

const SPACE = '\u2581'; // ▁

/** HF piece text of llama2.c piece `i` (a byte string: one char per byte). */
function hfPiece(tok: Llama2cTokenizer, i: number): string {
  if (i === tok.bos) return '<s>';
  if (i === tok.eos) return '</s>';
  return Buffer.from(tok.pieces[i], 'latin1').toString('utf8').replaceAll(' ', SPACE);
}

function isBytePiece(p: string): boolean {
  return /^<0x[0-9A-F]{2}>$/.test(p);
}

/** Sentencepiece's behaviour in tokenizer.json terms: a leading space, spaces as ▁. */
const SPM_NORMALIZER = {
  type: 'Sequence',
  normalizers: [
    { type: 'Prepend', prepend: SPACE },
    { type: 'Replace', pattern: { String: ' ' }, content: SPACE },
  ],
};

const SPM_DECODER = {
  type: 'Sequence',
  decoders: [
    { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
    { type: 'ByteFallback' },
    { type: 'Fuse' },
    { type: 'Strip', content: ' ', start: 1, stop: 0 },
  ],
};

/** BOS before every sequence, as llama2.c's encoder adds it. */
function bosTemplate(bos: number): object {
  return {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [
      { SpecialToken: { id: '<s>', type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: '<s>', type_id: 1 } },
      { Sequence: { id: 'B', type_id: 1 } },
    ],
    special_tokens: { '<s>': { id: '<s>', ids: [bos], tokens: ['<s>'] } },
  };
}

/**
 * BPE merges that reproduce llama2.c's score-greedy merging: every split of a scored piece into two
 * pieces of the vocabulary, ranked by the piece's score (ties by ids, deterministic).
 */
function scoreMerges(tok: Llama2cTokenizer, pieces: string[], vocab: Record<string, number>, special: Set<number>): [string, string][] {
  const merges: { l: string; r: string; score: number; id: number; li: number; ri: number }[] = [];
  pieces.forEach((p, id) => {
    if (special.has(id) || isBytePiece(p) || !(tok.scores[id] > -1e10)) return;
    const chars = Array.from(p);
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join('');
      const r = chars.slice(k).join('');
      const li = vocab[l];
      const ri = vocab[r];
      if (li !== undefined && ri !== undefined && !special.has(li) && !special.has(ri)) {
        merges.push({ l, r, score: tok.scores[id], id, li, ri });
      }
    }
  });
  merges.sort((a, b) => b.score - a.score || a.id - b.id || a.li - b.li || a.ri - b.ri);
  return merges.map((m) => [m.l, m.r]);
}

export function llama2cTokenizerToHfJson(tok: Llama2cTokenizer): { tokenizer: object; tokenizerConfig: object } {
  const pieces = Array.from({ length: tok.vocabSize }, (_, i) => hfPiece(tok, i));
  const vocab: Record<string, number> = {};
  pieces.forEach((p, i) => {
    if (!(p in vocab)) vocab[p] = i;
  });
  const special = new Set([0, tok.bos, tok.eos]);
  const added = [...special].map((id) => ({ id, content: pieces[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: SPM_NORMALIZER,
    pre_tokenizer: null,
    post_processor: bosTemplate(tok.bos),
    decoder: SPM_DECODER,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: pieces[0],
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: scoreMerges(tok, pieces, vocab, special),
    },
  };
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    add_bos_token: true,
    add_eos_token: false,
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: pieces[0],
    clean_up_tokenization_spaces: false,
    legacy: true,
  };
  return { tokenizer, tokenizerConfig };
}

/** Writes tokenizer.json and tokenizer_config.json for `tok` into `dir`. */
export function writeHfTokenizerFiles(tok: Llama2cTokenizer, dir: string): void {
  const { tokenizer, tokenizerConfig } = llama2cTokenizerToHfJson(tok);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfig, null, 2)}\n`);
}
