// `slimllm eval`: perplexity of a model on a text.
import type { Command } from 'commander';
import { evaluatePerplexity, tokenizerFor } from '../../api.js';
import { type DeviceKind } from '../../kernels/index.js';
import { progress } from '../progress.js';
import { readText } from '../../text-files.js';
import { num, device, printJson } from '../args.js';

export async function runEval(modelPath: string, o: { tokenizer?: string; text: string; protocol: 'stories' | 'windows'; stories: string; seqLen: number; device: DeviceKind }, label = 'eval') {
  const tok = tokenizerFor(modelPath, o.tokenizer);
  const bar = progress(label);
  const r = await evaluatePerplexity(modelPath, {
    text: readText(o.text),
    tokenizer: tok,
    protocol: o.protocol,
    stories: o.stories,
    seqLen: o.seqLen,
    device: o.device,
    onProgress: (d, t, w) => bar.update(d, t, w),
  });
  bar.stop();
  return r;
}

export function registerEval(cli: Command): void {
  cli
    .command('eval')
    .description('perplexity of a model on a text')
    .requiredOption('--model <path>', 'model path')
    .option('--tokenizer <path>', 'tokenizer (default: found beside the model)')
    .requiredOption('--text <file>', 'text file (documents separated by <|endoftext|> for the stories protocol)')
    .option('--protocol <p>', 'stories | windows', 'stories')
    .option('--stories <a:b>', 'document range for the stories protocol', '1:201')
    .option('--seq-len <T>', 'window length for the windows protocol (≥ 2)', num('int', 2), 128)
    .option('--device <d>', 'gpu | cpu', device, 'gpu')
    .option('--json', 'one JSON object as the last stdout line')
    .action(async (o) => {
      if (o.protocol !== 'stories' && o.protocol !== 'windows') throw new Error(`--protocol must be stories or windows`);
      const r = await runEval(o.model, o);
      if (o.json) printJson({ nll: r.nll, ppl: r.ppl, tokens: r.tokens, protocol: r.protocol, device: r.device });
      else console.log(`mean NLL ${r.nll.toFixed(5)}, perplexity ${r.ppl.toFixed(4)} over ${r.tokens} tokens (${r.protocol}, ${r.device})`);
    });

}
