// One interface, two backends. Every kernel has the same signature on `gpu` (WGSL through
// WebGPU) and `cpu` (plain single-threaded TypeScript: the reference the tests compare with, not a
// tuned CPU implementation).
// Code above this folder (model, prune, eval) is written once against `Backend`.

export interface Tensor {
  readonly shape: readonly number[];
  readonly size: number;
}

export type RopeLayout = 'interleaved' | 'half';

export interface RopeOptions {
  /** Rows are `batch × seqLen` tokens, sequence-major: row = b*seqLen + t. */
  seqLen: number;
  nHeads: number;
  headDim: number;
  theta: number;
  /** 'interleaved': llama2.c's adjacent pairs (2i, 2i+1); 'half': Hugging Face rotate-half (i, i+d/2). */
  layout: RopeLayout;
  /** Position of the first token of every sequence (default 0). */
  posOffset?: number;
}

export interface AttentionOptions {
  seqLen: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
}

/**
 * Streaming covariance statistics of the columns of a matrix X (rows are samples):
 * count, column means, centred Gram matrix M2 = Σ (x-μ)(x-μ)ᵀ (K×K, row-major) and column
 * sums of squares (for L2 norms). Chunks are merged with Chan's parallel update, so memory
 * does not depend on the number of rows and fp32 stays accurate.
 */
export interface CovStats<T extends Tensor = Tensor> {
  readonly dim: number;
  count: number;
  mean: T; // [K]
  m2: T; // [K, K]
  sumsq: T; // [K]
}

/** Device memory held in tensors: bytes live now and the high-water mark since creation. */
export interface DeviceMemory {
  readonly liveBytes: number;
  readonly peakBytes: number;
}

/** 16-bit storage types a checkpoint's weights can arrive in. */
export type HalfDtype = 'F16' | 'BF16';

export interface Backend<T extends Tensor = Tensor> {
  /** Human-readable device name (adapter name or 'cpu'). */
  readonly deviceName: string;
  /** Device memory figures; null where tensors live in ordinary JavaScript memory (the CPU twin). */
  deviceMemory(): DeviceMemory | null;

  upload(data: Float32Array, shape: readonly number[]): T;
  /**
   * An f32 tensor from f16 or bf16 bits as a checkpoint stores them: the GPU uploads the 16-bit
   * words and widens them on the device. Bit for bit the host's widening (NaN: the one quiet NaN).
   */
  widenHalf(bits: Uint16Array, dtype: HalfDtype, shape: readonly number[]): T;
  read(t: T): Promise<Float32Array>;
  free(t: T): void;
  /** Waits until all queued work is done (timing). */
  sync(): Promise<void>;
  dispose(): void;

  /** Y = X·Wᵀ (+ b): X [M×K], W [N×K] (checkpoint Linear layout), b [N]. */
  linear(x: T, w: T, bias?: T | null): T;
  /**
   * X·Wᵀ of two [n × K] matrices whose product the caller knows to be symmetric (W = X, commuting
   * symmetric X and W, A·M·Aᵀ): the upper triangle is computed and mirrored, about half the work.
   */
  symmetricLinear(x: T, w: T): T;
  /** Row-wise RMSNorm: y = x / sqrt(mean(x²) + eps) * weight. */
  rmsnorm(x: T, weight: T, eps: number): T;
  /** Rotary position embedding of [rows, nHeads*headDim]. */
  rope(x: T, opts: RopeOptions): T;
  /** Causal attention with GQA; q [rows, H*d], k/v [rows, G*d]; returns per-head outputs [rows, H*d] (before o_proj). */
  attention(q: T, k: T, v: T, opts: AttentionOptions): T;
  /** silu(gate) ⊙ up, elementwise. */
  swiglu(gate: T, up: T): T;
  /** a + b, elementwise (same shape). */
  add(a: T, b: T): T;
  /** Sum over rows of cos(a_row, b_row); returns a [1] tensor (divide by rows for the mean). */
  rowCosineSum(a: T, b: T): T;
  /** Per-row negative log-likelihood of `targets` (ids stored as f32) under softmax(logits); [rows]. */
  nll(logits: T, targets: T): T;
  /** Copies the rows [start, start+count) of a 2-D tensor. */
  sliceRows(x: T, start: number, count: number): T;
  /** xᵀ of a 2-D tensor [R×C] → [C×R]. */
  transpose(x: T): T;
  /** Gathers the columns `cols` of a 2-D tensor [M×K] → [M×cols.length]. */
  gatherColumns(x: T, cols: readonly number[]): T;
  /** y = x[rows, :] of a 2-D x (rows in any order, repeats allowed). */
  gatherRows(x: T, rows: readonly number[]): T;

  covInit(dim: number): CovStats<T>;
  /** Merges the rows of x [M×dim] into the statistics (in place). */
  covAccumulate(stats: CovStats<T>, x: T): void;
  covFree(stats: CovStats<T>): void;
  /** Σ_r x[r, c]² of every column c of x [M × K] (rows are samples); [K]. The covariance's sumsq without its Gram matrix. */
  columnSumsq(x: T): T;

  /**
   * Lower Cholesky factor of a symmetric positive-definite [n×n] A. Async because a failed
   * factorisation (not SPD, non-finite) must be detected: it rejects with an error naming `name`.
   */
  cholesky(a: T, name: string): Promise<T>;
  /** Solves A X = B for X given A's Cholesky factor L [n×n]; B [n×m]. */
  choleskySolve(l: T, b: T): T;
  /**
   * σ(A/μ) as a matrix function, μ = mean |eigenvalue|: V·diag(sigmoid(|λ|/μ))·Vᵀ for a symmetric
   * positive semi-definite A [n×n] (a covariance); an all-zero A gives ½·I. SlimLLM's FFN score
   * needs Σ_m ⟨w, v_m⟩²·sigmoid(|λ_m|/μ)² = ‖Z·w‖² with Z this matrix. CPU: through eigh; GPU:
   * products only (no eigendecomposition). Async: the GPU reads the trace and norm to scale its series.
   */
  spectralSigmoid(a: T): Promise<T>;
}
