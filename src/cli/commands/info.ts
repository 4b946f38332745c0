// `slimllm info`: a model's configuration and parameter counts.
import type { Command } from 'commander';
import { decoderLinearParams } from '../../model/config.js';
import { openModel } from '../../model/load.js';
import { printJson } from '../args.js';

export function registerInfo(cli: Command): void {
  cli
    .command('info')
    .description('show a model\'s configuration and parameter counts')
    .requiredOption('--model <path>', 'llama2.c .bin, .gguf, Hugging Face folder, or a folder written by slimllm')
    .option('--json', 'one JSON object on stdout')
    .action((o) => {
      const src = openModel(o.model);
      try {
        const c = src.config;
        const info = { ...c, decoderLinearParams: decoderLinearParams(c), origin: src.origin };
        if (o.json) printJson(info);
        else {
          console.log(`${src.origin}: ${c.architecture}, ${c.nLayers} layers, hidden ${c.hiddenSize}, head dim ${c.headDim}, vocab ${c.vocabSize}, max length ${c.maxSeqLen}, RoPE ${c.ropeLayout} θ=${c.ropeTheta}`);
          c.layers.forEach((l, i) => console.log(`  layer ${i}: ${l.nHeads} heads / ${l.nKvHeads} KV heads, FFN ${l.ffnDim}${l.oBias ? ', o_proj bias' : ''}${l.downBias ? ', down_proj bias' : ''}`));
          console.log(`decoder linear parameters: ${info.decoderLinearParams}`);
        }
      } finally {
        src.close();
      }
    });

}
