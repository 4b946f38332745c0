// Llama-family model configuration. Head counts and FFN widths may differ per layer (a pruned
// model), and o_proj / down_proj may carry biases (the regression recovery adds them).
import { z } from 'zod';

export const RopeLayoutSchema = z.enum(['interleaved', 'half']);

export const LayerShapeSchema = z.object({
  nHeads: z.number().int().positive(),
  nKvHeads: z.number().int().positive(),
  ffnDim: z.number().int().positive(),
  oBias: z.boolean(),
  downBias: z.boolean(),
});
export type LayerShape = z.infer<typeof LayerShapeSchema>;

export const ModelConfigSchema = z
  .object({
    architecture: z.string(),
    hiddenSize: z.number().int().positive(),
    nLayers: z.number().int().positive(),
    headDim: z.number().int().positive(),
    vocabSize: z.number().int().positive(),
    rmsNormEps: z.number().positive(),
    ropeTheta: z.number().positive(),
    /** Layout the q/k weights in memory expect: 'interleaved' (llama2.c) or 'half' (Hugging Face). */
    ropeLayout: RopeLayoutSchema,
    tieEmbeddings: z.boolean(),
    maxSeqLen: z.number().int().positive(),
    bosTokenId: z.number().int().nonnegative(),
    eosTokenId: z.number().int().nonnegative(),
    layers: z.array(LayerShapeSchema),
  })
  .superRefine((c, ctx) => {
    if (c.layers.length !== c.nLayers) {
      ctx.addIssue({ code: 'custom', message: `layers has ${c.layers.length} entries, nLayers is ${c.nLayers}` });
    }
    c.layers.forEach((l, i) => {
      if (l.nHeads % l.nKvHeads !== 0) {
        ctx.addIssue({ code: 'custom', message: `layer ${i}: ${l.nHeads} query heads not divisible by ${l.nKvHeads} KV heads` });
      }
    });
    if (c.ropeLayout === 'half' && c.headDim % 2 !== 0) {
      ctx.addIssue({ code: 'custom', message: `headDim ${c.headDim} must be even for RoPE` });
    }
  });
export type ModelConfig = z.infer<typeof ModelConfigSchema>;

/** True when every layer has layer 0's head counts and FFN width (biases aside). */
export function uniformWidths(layers: readonly LayerShape[]): boolean {
  const l0 = layers[0];
  return layers.every((s) => s.nHeads === l0.nHeads && s.nKvHeads === l0.nKvHeads && s.ffnDim === l0.ffnDim);
}

/** Uniform config helper: every layer the same shape, no biases. */
export function uniformLayers(n: number, nHeads: number, nKvHeads: number, ffnDim: number): LayerShape[] {
  return Array.from({ length: n }, () => ({ nHeads, nKvHeads, ffnDim, oBias: false, downBias: false }));
}

/** Parameters of the q/k/v/o/gate/up/down weights of one layer (no biases, norms, embeddings). */
/**
 * Decoder linear parameters that go with one prunable unit of a layer: a KV group (its query heads'
 * q_proj rows and o_proj columns, its k_proj and v_proj rows), a query head alone (its q_proj rows
 * and o_proj columns) and an FFN channel (gate/up rows, down_proj column).
 */
export function unitParams(c: ModelConfig, s: LayerShape): { group: number; query: number; channel: number } {
  const D = c.hiddenSize;
  const d = c.headDim;
  const q = s.nHeads / s.nKvHeads;
  return { group: 2 * q * d * D + 2 * d * D, query: 2 * d * D, channel: 3 * D };
}

export function layerLinearParams(c: ModelConfig, l: number): number {
  const s = c.layers[l];
  const u = unitParams(c, s);
  return s.nKvHeads * u.group + s.ffnDim * u.channel;
}

export function decoderLinearParams(c: ModelConfig): number {
  let n = 0;
  for (let l = 0; l < c.nLayers; l++) n += layerLinearParams(c, l);
  return n;
}
