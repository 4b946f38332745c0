// `slimllm` command line: info | eval | generate | convert | prune | demo.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkVocab, evaluatePerplexity, prune, tokenizerFor } from '../api.js';
import { createBackend, type DeviceKind } from '../kernels/index.js';
import { decoderLinearParams } from '../model/config.js';
import { checkConversion, convertModel, SOURCE_FORMATS, type SourceFormat, TARGET_FORMATS, type TargetFormat } from '../model/convert.js';
import { openModel } from '../model/load.js';
import { loadTokenizer, tokenizerFileFor } from '../model/tokenizer.js';
import { greedyContinuation } from '../model/generate.js';
import { yieldToEventLoop } from '../model/runner.js';
import { saveModel } from '../model/writer.js';
import { bundled } from '../paths.js';
import { calibrationFromText } from '../prune/calibration.js';
import { METHOD_NAMES, type MethodName } from '../prune/baselines.js';
import { compareMarkdown, compareSvg, expandGrid, runCompare } from '../prune/compare.js';
import type { PruneReport } from '../prune/orchestrator.js';
import { RECOVERY_NAMES, type RecoveryName } from '../prune/recoveries.js';
import { storiesSequences } from '../eval/perplexity.js';
import { progress } from './progress.js';
import { readCalibTokens, readText } from '../text-files.js';
import { exitOnSignals, removeOnExit } from '../cleanup.js';
import { writeFileAtomically, writeFully } from '../model/atomic-file.js';

function num(kind: 'int' | 'float', min = -Infinity) {
  return (v: string) => {
    const n = v.trim() === '' ? NaN : Number(v);
    if (!Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) throw new InvalidArgumentError(`'${v}' is not ${kind === 'int' ? 'an integer' : 'a number'}`);
    if (n < min) throw new InvalidArgumentError(`${n} is below the smallest allowed, ${min}`);
    return n;
  };
}

function device(v: string): DeviceKind {
  if (v !== 'gpu' && v !== 'cpu') throw new InvalidArgumentError(`device must be gpu or cpu, not '${v}'`);
  return v;
}

function oneOf<N extends string>(what: string, names: readonly N[]) {
  return (v: string): N => {
    if (!names.includes(v as N)) throw new InvalidArgumentError(`${what} must be one of ${names.join(', ')}, not '${v}'`);
    return v as N;
  };
}

function list<N>(parse: (v: string) => N) {
  return (v: string): N[] => {
    const items = v
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x.length > 0);
    if (items.length === 0) throw new InvalidArgumentError(`'${v}' is an empty list`);
    return items.map(parse);
  };
}

const DTYPES = ['F32', 'F16', 'BF16', 'Q8_0'] as const;
function dtypeArg(v: string): (typeof DTYPES)[number] {
  const d = v.toUpperCase() as (typeof DTYPES)[number];
  if (!DTYPES.includes(d)) throw new InvalidArgumentError(`dtype must be one of f32, f16, bf16, q8_0, not '${v}'`);
  return d;
}

function printJson(o: unknown): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}


/** Writes a file via a temp name + rename, so an interrupted run never leaves half a file. */
function writeFileAtomic(file: string, data: string): void {
  writeFileAtomically(file, (fd) => writeFully(fd, Buffer.from(data, 'utf8')));
}

function layerSummary(r: PruneReport): string {
  return r.layers
    .map((l) => {
      const heads = l.keptHeadGroups ? `${l.keptHeadGroups.length} groups` : 'whole';
      const ch = l.keptChannels ? `${l.keptChannels.length} channels` : '';
      return `  layer ${l.index}: score ${r.layerScores[l.index].toFixed(4)} ratio ${l.ratio.toFixed(4)} → ${heads}${ch ? `, ${ch}` : ''}${l.bounded ? ' (bounded)' : ''}`;
    })
    .join('\n');
}

interface PruneCliOptions {
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
  headUnit: 'group';
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

/**
 * Marks outputs as finished, after letting the event loop run once: a Ctrl-C that arrived during a
 * synchronous save is handled first (and removes them), so an interrupted command leaves nothing.
 */
async function keepAfterPendingSignals(keep: (() => void)[]): Promise<void> {
  // Two turns: the second setImmediate runs only after a poll phase, where signals are read.
  await yieldToEventLoop();
  await yieldToEventLoop();
  for (const k of keep) k();
}

/** Where the report of a pruning run goes: inside the folder, or beside the .gguf file. */
function reportPath(out: string, format: 'hf' | 'gguf'): string {
  return format === 'gguf' ? `${out.replace(/\.gguf$/, '')}.report.json` : path.join(out, 'report.json');
}

/**
 * Fails before any work when `out` cannot be written: the nearest folder that exists above it
 * must take a new file (tried with a probe file, removed at once).
 */
function checkWritable(out: string, file = out): void {
  let dir = path.dirname(path.resolve(file));
  while (!fs.existsSync(dir)) dir = path.dirname(dir);
  const probe = path.join(dir, `.slimllm-probe-${process.pid}`);
  try {
    if (!fs.statSync(dir).isDirectory()) throw new Error('not a folder');
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`--out ${out}: cannot write in ${dir} (${code ?? (e as Error).message})`);
  }
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

async function runPrune(o: PruneCliOptions): Promise<PruneReport> {
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

async function runEval(modelPath: string, o: { tokenizer?: string; text: string; protocol: 'stories' | 'windows'; stories: string; seqLen: number; device: DeviceKind }, label = 'eval') {
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

export function buildCli(): Command {
  const cli = new Command('slimllm').description('Structured pruning of Llama-family models (SlimLLM) on the GPU through WebGPU')
    // Usage errors go through run()'s one-line error, like every other error (subcommands inherit this).
    .exitOverride()
    .configureOutput({ outputError: () => {} });

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
    .option('--pruned-layers <K>', 'number of layers pruned (default round(0.8·L))', num('int'))
    .option('--alpha <a>', 'slimllm: softmax temperature of the layer ratios (default 10)', num('float', 0))
    .option('--calib-text <file>', 'calibration text')
    .option('--calib-samples <N>', 'with --calib-text: calibration windows (default 32)', num('int', 1))
    .option('--calib-len <T>', 'with --calib-text: tokens per window (default 128)', num('int', 2))
    .option('--seed <s>', 'with --calib-text: calibration seed (default 42)', num('int'))
    .option('--calib-tokens <file>', 'calibration token ids (JSON number[][])')
    .option('--head-unit <u>', 'group (whole KV groups)', 'group')
    .option('--keep-lowest <f>', 'slimllm: fraction of lowest-scoring channels always kept (default 0.01)', num('float', 0))
    .option('--method <m>', `${METHOD_NAMES.join(' | ')}`, oneOf('method', METHOD_NAMES), 'slimllm')
    .option('--recovery <r>', `${RECOVERY_NAMES.join(' | ')} (default: regression for slimllm, bias for flap, none otherwise)`, oneOf('recovery', RECOVERY_NAMES))
    .option('--lstsq-damping <f>', 'lstsq recovery: ridge relative to the mean kept variance (default 0.01)', num('float', 0))
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
    .option('--calib-text <file>', 'calibration text (default: stories 500–999 of --text)')
    .option('--calib-samples <N>', 'calibration windows', num('int', 1), 32)
    .option('--calib-len <T>', 'tokens per window', num('int', 2), 128)
    .option('--seed <s>', 'calibration seed', num('int'), 42)
    .option('--lstsq-damping <f>', 'lstsq recovery: ridge relative to the mean kept variance', num('float'), 0.01)
    .option('--random-seed <s>', 'seed of the random method', num('int'), 0)
    .option('--out <dir>', 'output folder', 'slimllm-compare')
    .option('--device <d>', 'gpu | cpu', device, 'gpu')
    .option('--json', 'the results as the last stdout line')
    .action(async (o) => {
      const outSt = fs.statSync(o.out, { throwIfNoEntry: false });
      if (outSt && !outSt.isDirectory()) throw new Error(`--out ${o.out}: exists and is not a folder`);
      checkWritable(o.out, path.join(o.out, 'results.json'));
      const grid = expandGrid(o.methods, o.recoveries);
      const tok = tokenizerFor(o.model, o.tokenizer);
      const text = readText(o.text);
      let calibText: string;
      if (o.calibText) calibText = readText(o.calibText);
      else {
        const docs = text.split('<|endoftext|>');
        if (docs.length < 501) throw new Error(`${o.text} has ${docs.length} stories; the default calibration uses stories 500–999: pass --calib-text`);
        calibText = docs.slice(500).join('<|endoftext|>');
      }
      const src = openModel(o.model);
      const b = await createBackend(o.device);
      try {
        checkVocab(tok, src);
        const calib = calibrationFromText(tok, calibText, o.calibSamples, o.calibLen, o.seed);
        const evalSeqs = storiesSequences(tok, text, o.stories, src.config.maxSeqLen);
        const bar = progress('compare');
        const result = await runCompare(b, src, {
          ratios: o.ratios, grid, calib, evalSeqs,
          evalLabel: `${path.basename(o.text)} stories ${o.stories}`,
          modelLabel: path.basename(o.model),
          lstsqDamping: o.lstsqDamping, seed: o.randomSeed,
          onProgress: (d, t, w) => bar.update(d, t, w),
        });
        bar.stop();
        result.command = `slimllm ${process.argv.slice(2).join(' ')}`;
        fs.mkdirSync(o.out, { recursive: true });
        writeFileAtomic(path.join(o.out, 'results.json'), `${JSON.stringify(result, null, 1)}\n`);
        writeFileAtomic(path.join(o.out, 'results.md'), compareMarkdown(result));
        writeFileAtomic(path.join(o.out, 'results.svg'), compareSvg(result));
        for (const r of result.runs) if (r.error) process.stderr.write(`slimllm: ${r.method}/${r.recovery} at ${r.targetRatio} failed: ${r.error}\n`);
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
  return cli;
}

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
