// The real llama.cpp (node-llama-cpp 3.21.1, prebuilt Linux x64 CPU binaries) as a reference for
// interop tests. It lives in the private package interop/ (installed by scripts/install-interop.sh,
// which `npm test` runs first) so that the main package never depends on it; it is loaded here by
// path. Its types are not imported (tsc must not need interop/node_modules): the small part of the
// API used is described by the local interfaces below.
//
// Every context is CPU-only, flash attention off, F32 K and V caches, 2 threads, one sequence.
// Nothing is downloaded or built: `build: 'never'` + `skipDownload` make a missing binary an error.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../src/paths.js';

// Found from the package root, so that this works from test/ (vitest) and dist/test/ (benchmarks).
const entry = path.join(packageRoot(), 'interop', 'node_modules', 'node-llama-cpp', 'dist', 'index.js');

type Token = number;

interface NlcControlledOutput {
  next: { token?: Token | null; probabilities?: Map<Token, number> };
}
type NlcGenerateNext = {
  token?: boolean;
  probabilities?: boolean;
  options?: { temperature?: number; topK?: number };
};
interface NlcSequence {
  clearHistory(): Promise<void>;
  controlledEvaluate(
    input: Array<Token | [Token, { generateNext?: NlcGenerateNext }]>,
  ): Promise<Array<NlcControlledOutput | undefined>>;
}
interface NlcContext {
  readonly contextSize: number;
  getSequence(): NlcSequence;
  dispose(): Promise<void>;
}
interface NlcModel {
  readonly trainContextSize: number;
  readonly tokens: { bos: Token | null; eos: Token | null };
  readonly fileInfo: { metadata?: { tokenizer?: { ggml?: { tokens?: readonly string[] } } } };
  tokenize(text: string, specialTokens?: boolean): Token[];
  detokenize(tokens: readonly Token[], specialTokens?: boolean): string;
  isEogToken(token: Token | undefined): boolean;
  createContext(options: Record<string, unknown>): Promise<NlcContext>;
  dispose(): Promise<void>;
}
/** The part of node-llama-cpp's `Llama` instance this helper uses. */
export interface Llama {
  loadModel(options: Record<string, unknown>): Promise<NlcModel>;
  dispose(): Promise<void>;
}
interface NlcModule {
  getLlama(options: Record<string, unknown>): Promise<Llama>;
}

/** llama.cpp's log lines at level warn and above since the last `takeLlamaLogs()` (not printed). */
const logs: string[] = [];
export function takeLlamaLogs(): string[] {
  return logs.splice(0, logs.length);
}

/** llama.cpp's log lines reach the logger asynchronously (from its threads): let them arrive. */
function logsSettle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 50));
}

let llamaPromise: Promise<Llama> | null = null;

/**
 * The one shared llama.cpp instance: CPU only, prebuilt binary only (never builds or downloads),
 * at most 2 threads, llama.cpp's logs collected (see `takeLlamaLogs`) instead of printed.
 */
export function openLlama(): Promise<Llama> {
  llamaPromise ??= (async () => {
    if (!fs.existsSync(entry)) {
      throw new Error(`node-llama-cpp is not installed in interop/: run \`bash scripts/install-interop.sh\` (looked for ${entry})`);
    }
    const mod = (await import(pathToFileURL(entry).href)) as NlcModule;
    return mod.getLlama({
      gpu: false,
      build: 'never',
      usePrebuiltBinaries: true,
      skipDownload: true,
      progressLogs: false,
      maxThreads: 2,
      logLevel: 'warn',
      logger: (level: string, message: string) => {
        logs.push(`[${level}] ${message.trimEnd()}`);
      },
    });
  })();
  llamaPromise.catch(() => {
    llamaPromise = null;
  });
  return llamaPromise;
}

/**
 * Dispose the shared instance (e.g. in afterAll); a later `openLlama()` makes a new one. Waits at
 * most 2 s: node-llama-cpp 3.21.1 leaks a dispose guard for every model that fails to load, and
 * `Llama.dispose()` then waits for it forever (the process exit frees everything anyway).
 */
export async function closeLlama(): Promise<void> {
  const p = llamaPromise;
  llamaPromise = null;
  if (!p) return;
  const llama = await p.catch(() => null);
  if (!llama) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    llama.dispose(),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 2000);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

export interface LoadGgufOptions {
  /**
   * Token capacity of the one sequence (default 512; node-llama-cpp may round it up, see
   * `LlamaHandle.contextSize`). It may exceed the model's llama.context_length (llama.cpp warns).
   */
  contextSize?: number;
}

export interface LlamaHandle {
  readonly vocabSize: number;
  readonly contextSize: number;
  readonly bos: number | null;
  readonly eos: number | null;
  /**
   * llama.cpp's tokenization of `text`: no BOS/EOS added, special-token text (e.g. "<s>") NOT
   * parsed (it is tokenized as plain text). For an SPM ('llama') vocab llama.cpp prepends the
   * dummy-prefix space ("▁") itself, as sentencepiece and llama2.c do.
   */
  tokenize(text: string): number[];
  /** llama.cpp's detokenization (special tokens rendered as text). */
  detokenize(tokens: number[]): string;
  /**
   * Greedy decoding from a fresh sequence: evaluates `promptTokens` (give the BOS yourself), then
   * takes the argmax token n times (temperature 0 → llama.cpp's greedy sampler; no top-k/top-p,
   * no repeat penalty, no grammar, no bias). Returns the generated ids only, which may be fewer
   * than n when an end-of-generation token (EOS) is produced: that token is included, then stop.
   */
  greedy(promptTokens: number[], n: number): Promise<number[]>;
  /**
   * From a fresh sequence, evaluates `tokens` in one batch and returns, for every position i, the
   * full next-token distribution after tokens[0..i] (length vocabSize, ids index it). It is
   * node-llama-cpp's softmax (float32, max-subtracted) of llama.cpp's raw logits: the greedy
   * sampler does not truncate the candidates, so every vocab entry is present.
   */
  nextTokenProbs(tokens: number[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

async function createContext(model: NlcModel, contextSize: number): Promise<NlcContext> {
  return model.createContext({
    contextSize,
    batchSize: contextSize,
    sequences: 1,
    threads: 2,
    flashAttention: false,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
  });
}

// node-llama-cpp parses the GGUF header in JS before llama.cpp sees the file, and that reader reads
// past the end of the file as zeros: a header whose key/tensor count exceeds the file loops (and
// allocates) until aborted. Every load therefore carries an abort signal with a deadline.
const LOAD_TIMEOUT_MS = 120_000;
const LOAD_ERROR_TIMEOUT_MS = 10_000;

async function loadModel(llama: Llama, file: string, timeoutMs: number): Promise<NlcModel> {
  return llama.loadModel({
    modelPath: file,
    gpuLayers: 0,
    useMmap: false,
    defaultContextFlashAttention: false,
    loadSignal: AbortSignal.timeout(timeoutMs),
  });
}

/** Load a GGUF file into llama.cpp with one context (see the file header for its settings). */
export async function loadGguf(file: string, options: LoadGgufOptions = {}): Promise<LlamaHandle> {
  const llama = await openLlama();
  const model = await loadModel(llama, file, LOAD_TIMEOUT_MS);
  const vocabSize = model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length ?? 0;
  let context: NlcContext;
  try {
    if (vocabSize <= 0) throw new Error(`${file}: no tokenizer.ggml.tokens`);
    context = await createContext(model, options.contextSize ?? 512);
  } catch (e) {
    await model.dispose();
    throw e;
  }
  const sequence = context.getSequence();
  let busy: Promise<unknown> = Promise.resolve();
  // One sequence: calls run one after the other even if a test does not await in between.
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const r = busy.then(f, f);
    busy = r.catch(() => undefined);
    return r;
  };
  const checkFits = (n: number) => {
    if (n > context.contextSize) throw new Error(`${n} tokens exceed the context size ${context.contextSize}`);
  };

  return {
    vocabSize,
    contextSize: context.contextSize,
    bos: model.tokens.bos,
    eos: model.tokens.eos,
    tokenize: (text) => Array.from(model.tokenize(text, false)),
    detokenize: (tokens) => model.detokenize(tokens, true),
    greedy: (promptTokens, n) =>
      serial(async () => {
        if (promptTokens.length === 0) throw new Error('greedy needs at least one prompt token');
        checkFits(promptTokens.length + n);
        await sequence.clearHistory();
        const out: number[] = [];
        const next: NlcGenerateNext = { token: true, options: { temperature: 0 } };
        let input: Array<Token | [Token, { generateNext: NlcGenerateNext }]> = [
          ...promptTokens.slice(0, -1),
          [promptTokens[promptTokens.length - 1], { generateNext: next }],
        ];
        while (out.length < n) {
          const res = await sequence.controlledEvaluate(input);
          const token = res[input.length - 1]?.next.token;
          if (token == null) throw new Error(`llama.cpp produced no token at step ${out.length}`);
          out.push(token);
          if (model.isEogToken(token)) break;
          input = [[token, { generateNext: next }]];
        }
        return out;
      }),
    nextTokenProbs: (tokens) =>
      serial(async () => {
        checkFits(tokens.length);
        await sequence.clearHistory();
        if (tokens.length === 0) return [];
        const res = await sequence.controlledEvaluate(
          tokens.map((t) => [t, { generateNext: { probabilities: true, options: { temperature: 0 } } }]),
        );
        return tokens.map((_, i) => {
          const probs = res[i]?.next.probabilities;
          if (!probs) throw new Error(`llama.cpp returned no probabilities at position ${i}`);
          if (probs.size !== vocabSize) {
            throw new Error(`position ${i}: ${probs.size} probabilities for a vocabulary of ${vocabSize}`);
          }
          const row = new Float32Array(vocabSize);
          for (const [id, p] of probs) row[id] = p;
          return row;
        });
      }),
    dispose: async () => {
      await busy;
      await context.dispose();
      await model.dispose();
    },
  };
}

/**
 * null when llama.cpp loads `file` and creates a context for it; otherwise the error message,
 * followed by the llama.cpp error/warning log lines printed during the attempt (one per line).
 * A load still running after 10 s is aborted and reported as an error (see LOAD_ERROR_TIMEOUT_MS).
 */
export async function loadError(file: string): Promise<string | null> {
  const llama = await openLlama();
  await logsSettle();
  takeLlamaLogs();
  let model: NlcModel | null = null;
  try {
    model = await loadModel(llama, file, LOAD_ERROR_TIMEOUT_MS);
    const context = await createContext(model, Math.min(64, model.trainContextSize));
    await context.dispose();
    return null;
  } catch (e) {
    const err = e as { name?: unknown; message?: unknown } | null;
    let message = typeof err?.message === 'string' ? err.message : String(e);
    if (err?.name === 'TimeoutError') {
      message = `not loaded within ${LOAD_ERROR_TIMEOUT_MS} ms (node-llama-cpp's GGUF reader loops on counts larger than the file): ${message}`;
    }
    await logsSettle();
    return [message, ...takeLlamaLogs()].join('\n');
  } finally {
    await model?.dispose();
  }
}
