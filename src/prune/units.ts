// What one prunable unit of attention is. A whole KV group (its query heads, key and value head)
// keeps a GQA model's group size; a query head alone keeps every KV head and removes the same
// number of query heads from each group (llama.cpp's `deci` and slimllm's forward need equal
// groups). With one query head per KV head (plain MHA) the two are the same: a key/value head with
// no query left is useless, so the query-head unit falls back to whole groups there.
import { unitParams, type LayerShape, type ModelConfig } from '../model/config.js';

export type HeadUnit = 'group' | 'query';
export const HEAD_UNITS: readonly HeadUnit[] = ['group', 'query'];

export interface AttentionUnits {
  /** True when units are query heads inside KV groups. */
  queryHeads: boolean;
  /** Prunable units of the layer: KV groups or query heads. */
  units: number;
  /** o_proj input columns (= q_proj rows) per unit. */
  colsPerUnit: number;
  /** Consecutive units that must each lose the same number (one KV group's query heads). */
  blockSize: number;
  /** Decoder linear parameters removed with one unit. */
  params: number;
}

export function attentionUnits(c: ModelConfig, s: LayerShape, headUnit: HeadUnit): AttentionUnits {
  const q = s.nHeads / s.nKvHeads;
  const p = unitParams(c, s);
  if (headUnit === 'query' && q > 1) return { queryHeads: true, units: s.nHeads, colsPerUnit: c.headDim, blockSize: q, params: p.query };
  return { queryHeads: false, units: s.nKvHeads, colsPerUnit: q * c.headDim, blockSize: s.nKvHeads, params: p.group };
}
