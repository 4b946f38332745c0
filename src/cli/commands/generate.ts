// `slimllm generate`: greedy continuation of a prompt.
import type { Command } from 'commander';
import { checkVocab, tokenizerFor } from '../../api.js';
import { createBackend } from '../../kernels/index.js';
import { openModel } from '../../model/load.js';
import { greedyContinuation } from '../../model/generate.js';
import { num, device } from '../args.js';

export function registerGenerate(cli: Command): void {
  cli
    .command('generate')
    .description('greedy generation')
    .requiredOption('--model <path>', 'model path')
    .option('--tokenizer <path>', 'tokenizer')
    .option('--prompt <text>', 'prompt', '')
    .option('--tokens <n>', 'tokens to generate', num('int', 1), 32)
    .option('--device <d>', 'gpu | cpu', device, 'gpu')
    .action(async (o) => {
      const tok = tokenizerFor(o.model, o.tokenizer);
      const src = openModel(o.model);
      const b = await createBackend(o.device);
      try {
        checkVocab(tok, src);
        process.stdout.write(o.prompt);
        await greedyContinuation(b, src, tok.encode(o.prompt, { bos: true }), o.tokens, (prev, id) => {
          if (id !== tok.eos) process.stdout.write(tok.decodeToken(prev, id));
        });
        process.stdout.write('\n');
      } finally {
        b.dispose();
        src.close();
      }
    });

}
