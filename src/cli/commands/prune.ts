// `slimllm prune`: SlimLLM (or a baseline) on a model, saved with its report.
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { prune } from '../../api.js';
import { type DeviceKind } from '../../kernels/index.js';
import { TARGET_FORMATS } from '../../model/convert.js';
import { openModel } from '../../model/load.js';
import { loadTokenizer, tokenizerFileFor } from '../../model/tokenizer.js';
import { saveModel } from '../../model/writer.js';
import { METHOD_NAMES, type MethodName } from '../../prune/methods.js';
import type { PruneReport } from '../../prune/orchestrator.js';
import { RECOVERY_NAMES, type RecoveryName } from '../../prune/recoveries.js';
import { HEAD_UNITS, type HeadUnit } from '../../prune/units.js';
import { progress } from '../progress.js';
import { readCalibTokens, readText } from '../../text-files.js';
import { removeOnExit } from '../../cleanup.js';
import { num, device, oneOf, DTYPES, dtypeArg, printJson, writeFileAtomic } from '../args.js';
import { keepAfterPendingSignals, checkWritable } from '../outputs.js';

export function layerSummary(r: PruneReport): string {
  return r.layers
    .map((l) => {
      const heads = l.keptHeadGroups ? `${l.keptHeadGroups.length} groups` : 'whole';
      const ch = l.keptChannels ? `${l.keptChannels.length} channels` : '';
      return `  layer ${l.index}: score ${r.layerScores[l.index].toFixed(4)} ratio ${l.ratio.toFixed(4)} → ${heads}${ch ? `, ${ch}` : ''}${l.bounded ? ' (bounded)' : ''}`;
    })
    .join('\n');
}

export interface PruneCliOptions {
  model: string;
  tokenizer?: string;
  out: string;
  ratio?: number;
  layerRatio?: number;
  prunedLayers?: number;
  alpha?: number;
  calibText?: string;
  calibSamples?: number;
  calibLen?: number;
  seed?: number;
  calibTokens?: string;
  headUnit: HeadUnit;
  keepLowest?: number;
  method?: MethodName;
  recovery?: RecoveryName;
  lstsqDamping?: number;
  randomSeed?: number;
  device: DeviceKind;
  json?: boolean;
  overwrite?: boolean;
  format?: 'hf' | 'gguf';
  dtype?: (typeof DTYPES)[number];
}

/** Where the report of a pruning run goes: inside the folder, or beside the .gguf file. */
function reportPath(out: string, format: 'hf' | 'gguf'): string {
  return format === 'gguf' ? `${out.replace(/\.gguf$/, '')}.report.json` : path.join(out, 'report.json');
}

function checkPruneOut(out: string, format: 'hf' | 'gguf', overwrite: boolean | undefined): void {
  const st = fs.statSync(out, { throwIfNoEntry: false });
  if (format === 'hf') {
    if (st && !st.isDirectory()) throw new Error(`${out}: exists and is not a folder: choose another --out (or --format gguf to write a file)`);
    if (st && fs.readdirSync(out).length > 0 && !overwrite) throw new Error(`${out} exists and is not empty: choose another --out (or pass --overwrite)`);
    checkWritable(out, path.join(out, 'config.json'));
    return;
  }
  if (st?.isDirectory()) throw new Error(`${out}: is a folder; with --format gguf, --out is the .gguf file to write`);
  for (const f of [out, reportPath(out, format)]) {
    if (fs.existsSync(f) && !overwrite) throw new Error(`${f} exists: choose another --out (or pass --overwrite)`);
  }
  checkWritable(out);
}

export async function runPrune(o: PruneCliOptions): Promise<PruneReport> {
  const format = o.format ?? (o.out.endsWith('.gguf') ? 'gguf' : 'hf');
  checkPruneOut(o.out, format, o.overwrite);
  // Until the report is written, an interrupted or failed run removes what it created.
  const created = [o.out, reportPath(o.out, format)].filter((p, i) => !fs.existsSync(p) && (format === 'gguf' || i === 0));
  const keep = created.map((p) => removeOnExit(p));
  if (o.ratio !== undefined && o.layerRatio !== undefined) throw new Error('--ratio and --layer-ratio both given: choose one (--ratio R solves p for a target; --layer-ratio P gives p)');
  if (o.calibText !== undefined && o.calibTokens !== undefined) throw new Error('--calib-text and --calib-tokens both given: choose one');
  if (o.calibTokens !== undefined) {
    const textOnly = (['calibSamples', 'calibLen', 'seed'] as const).filter((k) => o[k] !== undefined);
    if (textOnly.length > 0) throw new Error(`--calib-samples, --calib-len and --seed shape calibration drawn from --calib-text; --calib-tokens gives the ids themselves`);
  }
  if (o.ratio === undefined && o.layerRatio === undefined) o.ratio = 0.2;
  if (!fs.existsSync(o.model)) throw new Error(`${o.model}: no such file or folder`);
  // The tokenizer travels with the pruned model: the one given, or the one with the model.
  const tokenizerFile = o.tokenizer ?? tokenizerFileFor(o.model) ?? undefined;
  if (o.calibText && !tokenizerFile) throw new Error(`no tokenizer found for ${o.model}: pass one (--tokenizer PATH)`);
  const tok = tokenizerFile ? loadTokenizer(tokenizerFile) : undefined;
  let calibration;
  if (o.calibTokens) {
    calibration = { tokens: readCalibTokens(o.calibTokens) };
  } else {
    if (!o.calibText) throw new Error('give calibration: --calib-text FILE or --calib-tokens FILE.json');
    calibration = { text: readText(o.calibText), samples: o.calibSamples ?? 32, seqLen: o.calibLen ?? 128, seed: o.seed ?? 42 };
  }
  const bar = progress('prune');
  const src = openModel(o.model);
  try {
    const { model, report } = await prune(src, {
      targetRatio: o.layerRatio === undefined ? o.ratio : undefined,
      layerRatio: o.layerRatio,
      prunedLayers: o.prunedLayers,
      alpha: o.alpha,
      calibration,
      headUnit: o.headUnit,
      keepLowest: o.keepLowest,
      method: o.method,
      recovery: o.recovery,
      lstsqDamping: o.lstsqDamping,
      seed: o.randomSeed,
      tokenizer: tok,
      device: o.device,
      onProgress: (p) => bar.update(p.layer + 1, p.layers, `layer ${p.layer}: ${p.phase}`),
    });
    bar.stop();
    const t0 = performance.now();
    process.stderr.write(`writing ${o.out}\n`);
    try {
      saveModel(model, o.out, { format, dtype: o.dtype, tokenizerFile, overwrite: o.overwrite });
    } finally {
      model.close();
    }
    for (const w of report.warnings) process.stderr.write(`slimllm: warning: ${w}\n`);
    const full = { ...report, timeMs: { ...report.timeMs, write: performance.now() - t0 }, source: o.model };
    writeFileAtomic(reportPath(o.out, format), `${JSON.stringify(full, null, 1)}\n`);
    await keepAfterPendingSignals(keep);
    return full;
  } finally {
    src.close();
  }
}

export function registerPrune(cli: Command): void {
  const pruneCmd = cli
    .command('prune')
    .description('prune a model with SlimLLM (or a baseline) and save it with report.json')
    .requiredOption('--model <path>', 'model path')
    .option('--tokenizer <path>', 'tokenizer')
    .requiredOption('--out <path>', 'output folder, or .gguf file with --format gguf (never overwritten unless --overwrite)')
    .option('--format <f>', 'hf (folder + report.json) | gguf (one file llama.cpp runs, report beside it); default: gguf when --out ends in .gguf', oneOf('format', TARGET_FORMATS))
    .option('--dtype <t>', 'f32 | f16 | bf16 | q8_0 (q8_0: gguf only)', dtypeArg)
    .option('--ratio <r>', 'fraction of decoder linear parameters to remove (default 0.2)', num('float'))
    .option('--layer-ratio <p>', 'p: mean ratio of the pruned layers (instead of --ratio)', num('float'))
    .option('--pruned-layers <K>', 'slimllm, obs: number of layers pruned (default round(0.8·L))', num('int'))
    .option('--alpha <a>', 'slimllm, obs: softmax temperature of the layer ratios (default 10)', num('float', 0))
    .option('--calib-text <file>', 'calibration text')
    .option('--calib-samples <N>', 'with --calib-text: calibration windows (default 32)', num('int', 1))
    .option('--calib-len <T>', 'with --calib-text: tokens per window (default 128)', num('int', 2))
    .option('--seed <s>', 'with --calib-text: calibration seed (default 42)', num('int'))
    .option('--calib-tokens <file>', 'calibration token ids (JSON number[][])')
    .option('--head-unit <u>', 'group (whole KV groups) | query (query heads, as many from every KV group)', oneOf('head unit', HEAD_UNITS), 'group')
    .option('--keep-lowest <f>', 'slimllm: fraction of lowest-scoring channels always kept (default 0.01)', num('float', 0))
    .option('--method <m>', `${METHOD_NAMES.join(' | ')}`, oneOf('method', METHOD_NAMES), 'slimllm')
    .option('--recovery <r>', `${RECOVERY_NAMES.join(' | ')} (default: regression for slimllm, lstsq for obs, bias for flap, none otherwise)`, oneOf('recovery', RECOVERY_NAMES))
    .option('--lstsq-damping <f>', 'lstsq recovery and obs method: ridge relative to the mean input variance (default 0.01)', num('float', 0))
    .option('--random-seed <s>', 'random method: its seed (default 0)', num('int'))
    .option('--device <d>', 'gpu | cpu', device, 'gpu')
    .option('--overwrite', 'replace a non-empty --out')
    .option('--json', 'the report summary as the last stdout line');
  pruneCmd.action(async (o: PruneCliOptions) => {
    const r = await runPrune(o);
    if (o.json) printJson({ out: o.out, params: r.params, ratios: r.ratios, layerScores: r.layerScores, layers: r.layers.map((l) => ({ index: l.index, ratio: l.ratio, keptHeadGroups: l.keptHeadGroups, keptChannels: l.keptChannels })), timeMs: r.timeMs, device: r.device });
    else {
      console.log(layerSummary(r));
      console.log(`parameters ${r.params.before} → ${r.params.after} (${(100 * r.params.removedFraction).toFixed(1)} % removed); wrote ${o.out}`);
    }
  });

}
