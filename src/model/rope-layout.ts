// q/k row permutations between the two RoPE layouts.
//
// llama2.c (and Meta's original checkpoints) rotate adjacent pairs (2i, 2i+1) of each head;
// Hugging Face rotates (i, i+d/2) ("rotate half"). A checkpoint converted from one to the other
// must permute the output rows of wq and wk inside each head so that the same pairs get rotated.
// This is HF's convert_llama_weights_to_hf.py `permute`:
//   w.view(n_heads, d/2, 2, in).transpose(1, 2).reshape(n_heads*d, in)
// i.e. within a head, new row p*(d/2) + i = old row 2i + p; new order [0,2,4,…,d-2, 1,3,…,d-1].

/** Rows of `w` [nHeads*headDim × inDim] from interleaved (llama2.c) to rotate-half (HF) order. */
export function permuteInterleavedToHalf<A extends Float32Array | Uint16Array>(w: A, nHeads: number, headDim: number, inDim: number): A {
  return permuteRows(w, nHeads, headDim, inDim, (r) => halfRowSource(r, headDim));
}

/** The inverse: rotate-half (HF) order back to interleaved (llama2.c), i.e. HF's `permute_reverse`. */
export function permuteHalfToInterleaved<A extends Float32Array | Uint16Array>(w: A, nHeads: number, headDim: number, inDim: number): A {
  return permuteRows(w, nHeads, headDim, inDim, (r) => interleavedRowSource(r, headDim));
}

// Row r (within a head) of the rotate-half layout comes from this interleaved row.
function halfRowSource(r: number, d: number): number {
  const h = d / 2;
  return r < h ? 2 * r : 2 * (r - h) + 1;
}

// Row r of the interleaved layout comes from this rotate-half row.
function interleavedRowSource(r: number, d: number): number {
  return (r % 2) * (d / 2) + (r >> 1);
}

function permuteRows<A extends Float32Array | Uint16Array>(
  w: A,
  nHeads: number,
  headDim: number,
  inDim: number,
  source: (r: number) => number,
): A {
  if (headDim % 2 !== 0) throw new Error(`headDim ${headDim} must be even for a RoPE permutation`);
  if (w.length !== nHeads * headDim * inDim) {
    throw new Error(`q/k weight has ${w.length} values, ${nHeads} heads × ${headDim} × ${inDim} needs ${nHeads * headDim * inDim}`);
  }
  const out = (w instanceof Float32Array ? new Float32Array(w.length) : new Uint16Array(w.length)) as A;
  for (let hd = 0; hd < nHeads; hd++) {
    for (let r = 0; r < headDim; r++) {
      const src = (hd * headDim + source(r)) * inDim;
      out.set(w.subarray(src, src + inDim) as never, (hd * headDim + r) * inDim);
    }
  }
  return out;
}
