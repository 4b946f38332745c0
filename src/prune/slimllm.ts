// SlimLLM's unit choice (docs/algorithm.md), fed by device statistics; the big products
// run on the backend (products.ts). Its per-channel regression recovery is in recoveries.ts.
import type { Tensor } from '../kernels/backend.js';
import { channelScores, selectChannels } from './channels.js';
import { groupCrossCovFromProducts, selectHeadGroupsFromCrossCov } from './heads.js';
import { outputProjection, type ModuleContext, type PruningMethod, type Selection } from './module.js';
import { headBlockProducts, outputCovariance, weightedDownNorms } from './products.js';

export interface SlimLLMOptions {
  keepLowest: number;
}

export function slimllmMethod(o: SlimLLMOptions): PruningMethod {
  return {
    name: 'slimllm',
    async select<T extends Tensor>(ctx: ModuleContext<T>): Promise<Selection> {
      const { b, D, units, colsPerUnit } = ctx;
      const { w } = outputProjection(ctx);
      if (ctx.kind === 'attention') {
        const blocks = await headBlockProducts(b, ctx.wOut, units, colsPerUnit, ctx.stats.m2);
        const sigma = groupCrossCovFromProducts(w, D, units, colsPerUnit, (g) => blocks[g], 1 / ctx.stats.count);
        const sel = selectHeadGroupsFromCrossCov(sigma, units, D, ctx.nPrune, ctx.blockSize);
        return { kept: sel.kept, details: { headScores: sel.scores, greedySwaps: sel.swaps, fBefore: sel.fBefore, fAfter: sel.fAfter } };
      }
      const F = units;
      if (!ctx.inputSumsq) throw new Error('slimllm: MLP scoring needs the input column norms');
      // The eigen term as a matrix function of C_Y (no eigendecomposition on the GPU).
      const downQuad = await ctx.timer.time('eigen', async () => {
        const cy = outputCovariance(b, ctx.wOut, ctx.stats.m2);
        const z = await b.spectralSigmoid(cy);
        b.free(cy);
        const q = await weightedDownNorms(b, ctx.wOut, z);
        b.free(z);
        return q;
      });
      const scores = channelScores({
        wGate: ctx.w.wGate, wUp: ctx.w.wUp, wDown: w, D, F,
        inputSumsq: ctx.inputSumsq, hiddenSumsq: ctx.stats.sumsq,
        downQuad,
      });
      const sel = selectChannels(scores, ctx.nPrune, o.keepLowest);
      return { kept: sel.kept, bounded: sel.bounded };
    },
  };
}
