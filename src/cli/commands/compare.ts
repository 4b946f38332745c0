// `slimllm compare`: methods × recoveries × ratios, with results.json, .md and .svg.
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkVocab, tokenizerFor } from '../../api.js';
import { createBackend } from '../../kernels/index.js';
import { openModel } from '../../model/load.js';
import { METHOD_NAMES } from '../../prune/methods.js';
import { expandGrid } from '../../compare/grid.js';
import { compareMarkdown } from '../../compare/markdown.js';
import { runCompare } from '../../compare/run.js';
import { compareSvg } from '../../compare/svg.js';
import { RECOVERY_NAMES } from '../../prune/recoveries.js';
import { HEAD_UNITS } from '../../prune/units.js';
import { calibrationDraws, parseRange, splitStories, storiesSequences } from '../../corpus.js';
import { progress } from '../progress.js';
import { readText } from '../../text-files.js';
import { num, device, oneOf, list, printJson, writeFileAtomic } from '../args.js';
import { checkWritable } from '../outputs.js';

export function registerCompare(cli: Command): void {
  cli
    .command('compare')
    .description('prune at several ratios with several methods/recoveries; write results.json, results.md and results.svg')
    .requiredOption('--model <path>', 'model path')
    .option('--tokenizer <path>', 'tokenizer (default: found beside the model)')
    .requiredOption('--text <file>', 'evaluation text (documents separated by <|endoftext|>)')
    .option('--stories <a:b>', 'evaluation stories', '1:201')
    .option('--ratios <list>', 'target fractions of decoder linear parameters to remove', list(num('float')), [0.1, 0.2, 0.3, 0.4, 0.5])
    .option('--methods <list>', METHOD_NAMES.join(','), list(oneOf('method', METHOD_NAMES)), [...METHOD_NAMES])
    .option('--recoveries <list>', `entries: default | ${RECOVERY_NAMES.join(' | ')}, or method:recovery for one method only`, list(String), ['default'])
    .option('--head-units <list>', `attention units, each a series of its own: ${HEAD_UNITS.join(' | ')}`, list(oneOf('head unit', HEAD_UNITS)), ['group'])
    .option('--calib-text <file>', 'calibration text (default: stories 500–999 of --text)')
    .option('--calib-samples <N>', 'calibration windows', num('int', 1), 32)
    .option('--calib-len <T>', 'tokens per window', num('int', 2), 128)
    .option('--seed <s>', 'calibration seed; draw d (counted from 0) uses seed + d', num('int'), 42)
    .option('--draws <N>', 'calibration draws: every configuration runs once per draw; the outputs give mean ± sd', num('int', 1), 1)
    .option('--pruned-layers <K>', 'slimllm, obs: number of layers pruned (default round(0.8·L))', num('int', 1))
    .option('--alpha <a>', 'slimllm, obs: softmax temperature of the layer ratios (default 10)', num('float', 0))
    .option('--lstsq-damping <f>', 'lstsq recovery: ridge relative to the mean kept variance', num('float'), 0.01)
    .option('--random-seed <s>', 'seed of the random method; draw d (counted from 0) uses random-seed + d', num('int'), 0)
    .option('--out <dir>', 'output folder', 'slimllm-compare')
    .option('--device <d>', 'gpu | cpu', device, 'gpu')
    .option('--json', 'the results as the last stdout line')
    .action(async (o) => {
      const outSt = fs.statSync(o.out, { throwIfNoEntry: false });
      if (outSt && !outSt.isDirectory()) throw new Error(`--out ${o.out}: exists and is not a folder`);
      checkWritable(o.out, path.join(o.out, 'results.json'));
      const grid = expandGrid(o.methods, o.recoveries, o.headUnits);
      const tok = tokenizerFor(o.model, o.tokenizer);
      const text = readText(o.text);
      const { calibText, calibLabel } = calibrationSource(o.text, text, o.calibText, o.stories);
      const src = openModel(o.model);
      const b = await createBackend(o.device);
      try {
        checkVocab(tok, src);
        const draws = calibrationDraws(tok, calibText, o.calibSamples, o.calibLen, o.seed, o.draws);
        const evalSeqs = storiesSequences(tok, text, o.stories, src.config.maxSeqLen);
        const bar = progress('compare');
        const result = await runCompare(b, src, {
          ratios: o.ratios, grid, draws, calibLabel, evalSeqs,
          evalLabel: `${path.basename(o.text)} stories ${o.stories}`,
          modelLabel: path.basename(o.model),
          lstsqDamping: o.lstsqDamping, seed: o.randomSeed, prunedLayers: o.prunedLayers, alpha: o.alpha,
          onProgress: (d, t, w) => bar.update(d, t, w),
        });
        bar.stop();
        result.command = `slimllm ${process.argv.slice(2).join(' ')}`;
        fs.mkdirSync(o.out, { recursive: true });
        writeFileAtomic(path.join(o.out, 'results.json'), `${JSON.stringify(result, null, 1)}\n`);
        writeFileAtomic(path.join(o.out, 'results.md'), compareMarkdown(result));
        writeFileAtomic(path.join(o.out, 'results.svg'), compareSvg(result));
        for (const r of result.runs) if (r.error) process.stderr.write(`slimllm: ${r.method}/${r.recovery} at ${r.targetRatio}${o.draws > 1 ? ` (calibration seed ${r.calibSeed})` : ''} failed: ${r.error}\n`);
        if (o.json) printJson(result);
        else {
          console.log(compareMarkdown(result));
          console.log(`wrote ${path.join(o.out, 'results.json')}, results.md, results.svg`);
        }
      } finally {
        b.dispose();
        src.close();
      }
    });

}

/**
 * Where calibration windows come from: --calib-text, or by default stories 500–999 of --text, which
 * the default evaluation stories (1:201) never reach, so no draw calibrates on what is scored.
 */
function calibrationSource(textFile: string, text: string, calibFile: string | undefined, stories: string): { calibText: string; calibLabel: string } {
  if (calibFile) return { calibText: readText(calibFile), calibLabel: path.basename(calibFile) };
  const docs = text.split('<|endoftext|>');
  if (docs.length < 501) throw new Error(`${textFile} has ${docs.length} stories; the default calibration uses stories 500–999: pass --calib-text`);
  const [, evalEnd] = parseRange(stories, splitStories(text).length);
  if (evalEnd > 500) throw new Error(`--stories ${stories} reaches story 500, where the default calibration starts: pass --calib-text or end the evaluation stories before 500`);
  return { calibText: docs.slice(500).join('<|endoftext|>'), calibLabel: `stories 500–999 of ${path.basename(textFile)}` };
}
