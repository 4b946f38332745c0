// `slimllm demo`: prune the bundled model, evaluate before and after, write the GGUF.
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { convertModel } from '../../model/convert.js';
import { bundled } from '../../paths.js';
import type { PruneReport } from '../../prune/orchestrator.js';
import { removeOnExit } from '../../cleanup.js';
import { num, device, printJson } from '../args.js';
import { runEval } from './eval.js';
import { layerSummary, runPrune } from './prune.js';

/**
 * The one command that runs a GGUF file with node-llama-cpp: greedy, 32 tokens, F32 KV cache and
 * no flash attention (the settings the interop tests check). Its `complete` tokenizes the text
 * without sentencepiece's dummy-prefix space, so the prompt starts with a space to get the tokens
 * slimllm (and llama.cpp's own tokenizer) give "Once upon a time".
 */
export function runCommand(gguf: string): string {
  const q = (x: string) => (/^[\w./-]+$/.test(x) ? x : `'${x.replaceAll("'", "'\\''")}'`);
  return `npx -y node-llama-cpp@3.21.1 complete --model ${q(gguf)} --text ' Once upon a time' --maxTokens 32 --temperature 0 --repeatPenalty 1 --kvCacheKeyType F32 --kvCacheValueType F32 --no-fa`;
}

export function registerDemo(cli: Command): void {
  cli
    .command('demo')
    .description('prune the bundled stories260K by about 20 %, print perplexity before and after, and write the pruned GGUF')
    .option('--device <d>', 'gpu | cpu', device, 'gpu')
    .option('--ratio <r>', 'fraction of parameters to remove', num('float'), 0.2)
    .option('--stories <a:b>', 'evaluation stories', '1:201')
    .option('--out <dir>', 'where to save the pruned model (default: a temp folder)')
    .option('--json', 'summary as the last stdout line')
    .action(async (o) => {
      const out = o.out ?? fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-demo-'));
      // The demo's own folder is the result the user is told about at the end; removed if it never gets there.
      const keepOut = o.out === undefined ? removeOnExit(out) : () => {};
      const text = bundled.stories();
      const evalOpts = { text, protocol: 'stories' as const, stories: o.stories, seqLen: 128, device: o.device, tokenizer: bundled.tokenizer() };
      console.log(`slimllm demo: stories260K (bundled), TinyStories validation stories ${o.stories}, device ${o.device}`);
      const before = await runEval(bundled.model(), evalOpts, 'eval dense');
      console.log(`dense:  perplexity ${before.ppl.toFixed(4)} (mean NLL ${before.nll.toFixed(5)}, ${before.tokens} tokens)`);
      // Calibration: stories 500–999 (disjoint from the evaluation stories).
      const calibText = fs.readFileSync(text, 'utf8').split('<|endoftext|>').slice(500).join('<|endoftext|>');
      const calibDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-calib-'));
      const forgetCalib = removeOnExit(calibDir);
      const calibFile = path.join(calibDir, 'calib.txt');
      fs.writeFileSync(calibFile, calibText);
      let r: PruneReport;
      try {
        r = await runPrune({
          model: bundled.model(), tokenizer: bundled.tokenizer(), out, ratio: o.ratio, alpha: 10, calibText: calibFile,
          calibSamples: 32, calibLen: 128, seed: 42, headUnit: 'group', keepLowest: 0.01, device: o.device, overwrite: o.out === undefined,
        });
      } finally {
        fs.rmSync(calibDir, { recursive: true, force: true });
        forgetCalib();
      }
      console.log(layerSummary(r));
      const after = await runEval(out, evalOpts, 'eval pruned');
      console.log(`pruned: perplexity ${after.ppl.toFixed(4)} (mean NLL ${after.nll.toFixed(5)}, ${after.tokens} tokens)`);
      console.log(`removed ${(100 * r.params.removedFraction).toFixed(1)} % of decoder linear parameters (${r.params.before} → ${r.params.after}); pruned model in ${out}`);
      // The same pruned model as one file that llama.cpp (and everything built on it) runs.
      const gguf = path.join(out, 'stories260K-pruned.gguf');
      convertModel('hf', 'gguf', out, gguf, { overwrite: true });
      console.log(`wrote ${gguf}; run it with llama.cpp:`);
      console.log(`  ${runCommand(gguf)}`);
      keepOut();
      if (o.json) printJson({ dense: before, pruned: after, params: r.params, out, gguf });
    });
}
