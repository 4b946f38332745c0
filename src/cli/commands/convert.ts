// `slimllm convert`: any readable model to a folder or a GGUF file.
import type { Command } from 'commander';
import * as fs from 'node:fs';
import { checkConversion, convertModel, SOURCE_FORMATS, type SourceFormat, TARGET_FORMATS, type TargetFormat } from '../../model/convert.js';
import { removeOnExit } from '../../cleanup.js';
import { oneOf, dtypeArg } from '../args.js';
import { keepAfterPendingSignals } from '../outputs.js';

export function registerConvert(cli: Command): void {
  cli
    .command('convert')
    .description('convert a model: llama2c | hf | gguf → hf (folder) | gguf (one file llama.cpp runs)')
    .argument('<from>', `source format (${SOURCE_FORMATS.join(' | ')})`, oneOf('source format', SOURCE_FORMATS))
    .argument('<to>', `target format (${TARGET_FORMATS.join(' | ')})`, oneOf('target format', TARGET_FORMATS))
    .requiredOption('--model <path>', 'the model: llama2.c .bin, Hugging Face folder or .gguf')
    .option('--tokenizer <file>', 'tokenizer to write along (default: the one found with the model)')
    .requiredOption('--out <path>', 'output folder (hf) or file (gguf); never overwritten unless --overwrite')
    .option('--dtype <t>', 'f32 | f16 | bf16 | q8_0 (q8_0: gguf only)', dtypeArg, 'F32')
    .option('--overwrite', 'replace an existing --out')
    .action(async (from: SourceFormat, to: TargetFormat, o) => {
      checkConversion(from, to, o.model, o.out, o.overwrite, o.dtype);
      const keep = fs.existsSync(o.out) ? [] : [removeOnExit(o.out)];
      process.stderr.write(`writing ${o.out}\n`);
      convertModel(from, to, o.model, o.out, { dtype: o.dtype, tokenizerFile: o.tokenizer, overwrite: o.overwrite });
      await keepAfterPendingSignals(keep);
      console.log(`wrote ${o.out}`);
    });

}
