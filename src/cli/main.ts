// `slimllm` command line: info | eval | generate | convert | prune | compare | demo, one file each
// under commands/.
import { Command, CommanderError } from 'commander';
import { exitOnSignals } from '../cleanup.js';
import { registerCompare } from './commands/compare.js';
import { registerConvert } from './commands/convert.js';
import { registerDemo } from './commands/demo.js';
import { registerEval } from './commands/eval.js';
import { registerGenerate } from './commands/generate.js';
import { registerInfo } from './commands/info.js';
import { registerPrune } from './commands/prune.js';

export { runCommand } from './commands/demo.js';

export function buildCli(): Command {
  const cli = new Command('slimllm').description('Structured pruning of Llama-family models (SlimLLM) on the GPU through WebGPU')
    // Usage errors go through run()'s one-line error, like every other error (subcommands inherit this).
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  for (const register of [registerInfo, registerEval, registerGenerate, registerConvert, registerPrune, registerCompare, registerDemo]) register(cli);
  return cli;
}

/** Runs the CLI; returns the exit code. Errors print one clear line, no stack. */
export async function run(argv: string[]): Promise<number> {
  exitOnSignals();
  try {
    await buildCli().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help, --version
      process.stderr.write(`slimllm: ${e.message.replace(/^error: /, '')} (see --help)\n`);
      return e.exitCode;
    }
    process.stderr.write(`slimllm: ${(e as Error).message}\n`);
    if (process.env.SLIMLLM_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}
