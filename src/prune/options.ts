// Options of prune(), validated with zod so a user gets one clear message per mistake.
import { z } from 'zod';
import { METHODS, type MethodName } from './methods.js';
import type { RecoveryName } from './recoveries.js';

const METHOD_ENUM = Object.keys(METHODS) as [MethodName, ...MethodName[]];

/** The recovery each method uses unless told otherwise. */
export function defaultRecovery(method: string): RecoveryName {
  return METHODS[method as MethodName]?.defaultRecovery ?? 'none';
}

export const CalibrationSchema = z.union([
  z.strictObject({
    /** Explicit token ids: N sequences (each should start with BOS). */
    tokens: z.array(z.array(z.number().int().nonnegative()).min(2, 'a calibration sequence needs at least 2 tokens')).min(1, 'calibration is empty'),
  }),
  z.strictObject({
    /** Text to draw windows from (documents separated by <|endoftext|>). */
    text: z.string().min(1, 'calibration text is empty'),
    samples: z.number().int().positive().default(32),
    seqLen: z.number().int().min(2).default(128),
    seed: z.number().int().default(42),
  }),
]);
export type CalibrationInput = z.input<typeof CalibrationSchema>;

export const PruneOptionsSchema = z
  .strictObject({
    /** Fraction of decoder linear parameters to remove; p is solved for it. Exclusive with layerRatio. */
    targetRatio: z.number().min(0, 'targetRatio must be in [0, 1)').lt(1, 'targetRatio must be in [0, 1)').optional(),
    /** p: the mean pruning ratio of the selected layers. */
    layerRatio: z.number().min(0, 'layerRatio (p) must be in [0, 1)').lt(1, 'layerRatio (p) must be in [0, 1)').optional(),
    /** K: how many layers (the most input/output-similar) are pruned; default round(0.8·L). */
    prunedLayers: z.number().int().positive('prunedLayers (K) must be at least 1').optional(),
    alpha: z.number().finite().nonnegative().default(10),
    calibration: CalibrationSchema,
    /**
     * What an attention unit is: 'group' (a whole KV group; a GQA model stays GQA with fewer groups)
     * or 'query' (query heads, the same number from every KV group; every KV head stays).
     */
    headUnit: z.enum(['group', 'query']).default('group'),
    /** Lowest-scoring FFN channels always kept (the original code's quirk); 0 disables. */
    keepLowest: z.number().min(0).lt(1).default(0.01),
    /** Rows of calibration hidden states per GPU batch (bounds memory); default from the model. */
    batchRows: z.number().int().positive().optional(),
    /** Which units go: SlimLLM or a baseline (magnitude, Wanda-sp, FLAP, random). */
    method: z.enum(METHOD_ENUM).default('slimllm'),
    /** How o_proj / down_proj are rebuilt; default: regression (slimllm), bias (flap), none (others). */
    recovery: z.enum(['none', 'regression', 'bias', 'lstsq']).optional(),
    /** lstsq recovery: ridge λ relative to the mean diagonal of the kept covariance. */
    lstsqDamping: z.number().finite().nonnegative('lstsqDamping must be >= 0').default(0.01),
    /** Seed of the random method. */
    seed: z.number().int().default(0),
    /**
     * Where pruned layers wait until the model is saved: 'disk' (default; host memory stays about
     * one layer whatever the layer count) or 'memory'.
     */
    layerStore: z.enum(['disk', 'memory']).default('disk'),
    /** Folder for the disk store's temporary files (default: the OS temp folder). */
    workDir: z.string().min(1).optional(),
  })
  .superRefine((o, ctx) => {
    if (o.targetRatio !== undefined && o.layerRatio !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'give either targetRatio or layerRatio, not both' });
    }
    if (o.targetRatio === undefined && o.layerRatio === undefined) {
      ctx.addIssue({ code: 'custom', message: 'give targetRatio (fraction of parameters to remove) or layerRatio (p)' });
    }
  })
  .transform((o) => ({ ...o, recovery: o.recovery ?? defaultRecovery(o.method) }));
export type PruneOptionsInput = z.input<typeof PruneOptionsSchema>;
export type PruneOptions = z.output<typeof PruneOptionsSchema>;

/** Options that only some methods or recoveries read: given with another, they would be ignored. */
const SCOPED: { key: string; who: string; applies: (method: string, recovery: string) => boolean }[] = [
  ...[...new Set(Object.values(METHODS).flatMap((entry) => entry.options))].map((key) => {
    const readers = Object.keys(METHODS).filter((name) => METHODS[name as MethodName].options.includes(key));
    return { key, who: `${readers.length > 1 ? 'methods' : 'method'} ${readers.map((r) => `'${r}'`).join(' and ')}`, applies: (m: string) => readers.includes(m) };
  }),
  // The error-aware selection predicts the error after the lstsq refit, with the same ridge.
  { key: 'lstsqDamping', who: "recovery 'lstsq' and method 'obs'", applies: (m, r) => r === 'lstsq' || m === 'obs' },
];

function methodAndRecovery(o: Record<string, unknown>): [string, string] {
  const method = typeof o.method === 'string' ? o.method : 'slimllm';
  return [method, typeof o.recovery === 'string' ? o.recovery : defaultRecovery(method)];
}

function irrelevantOptions(o: Record<string, unknown>): string[] {
  const [method, recovery] = methodAndRecovery(o);
  return SCOPED.filter((s) => o[s.key] !== undefined && !s.applies(method, recovery)).map(
    (s) => `${s.key} applies only to ${s.who}, not to method '${method}' with recovery '${recovery}'`,
  );
}

/** `o` without the options its method and recovery do not read (for a grid sharing one set). */
export function relevantOptions<O extends Record<string, unknown>>(o: O): O {
  const [method, recovery] = methodAndRecovery(o);
  const out: Record<string, unknown> = { ...o };
  for (const s of SCOPED) if (!s.applies(method, recovery)) delete out[s.key];
  return out as O;
}

/** Parses options; throws one Error listing every problem (unknown and irrelevant keys included). */
export function parsePruneOptions(o: unknown): PruneOptions {
  const r = PruneOptionsSchema.safeParse(o);
  let msgs = r.success ? [] : r.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
  if (typeof o === 'object' && o !== null) {
    const cal = (o as { calibration?: unknown }).calibration;
    if (typeof cal === 'object' && cal !== null && 'tokens' in cal && 'text' in cal) {
      msgs = [...msgs.filter((m) => m !== 'calibration: Invalid input'), 'calibration: give tokens or text, not both'];
    }
    msgs.push(...irrelevantOptions(o as Record<string, unknown>));
  }
  if (msgs.length > 0 || !r.success) throw new Error(`invalid prune options: ${msgs.join('; ')}`);
  return r.data;
}
