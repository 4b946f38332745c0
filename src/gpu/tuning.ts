// Every tuning constant of the GPU side in one place: the runtime's batching and caches, and the
// kernels' workgroup, tile and block sizes. Shaders take workgroup sizes as `override` constants
// from these values (src/gpu/program.ts), so a size is written here only, never as a WGSL literal.

/** Dispatches encoded before a submit is forced: keeps each command buffer short, as OS GPU watchdogs want. */
export const DISPATCHES_PER_SUBMIT = 128;

/** Entries of the uniform-buffer and bind-group caches before they are emptied: bounds device memory. */
export const BIND_CACHE_LIMIT = 8192;

/**
 * Work of one matmul dispatch at most (2 flops per multiply-add), about a second on lavapipe and
 * enough tiles to fill a large GPU: larger products are split so that none runs for seconds
 * (OS GPU watchdogs).
 */
export const MAX_DISPATCH_FLOP = 16e9;

/** Tile configuration of the linear and covariance kernels (override constants of the shaders). */
export interface MatmulConfig {
  WG_X: number;
  WG_Y: number;
  BK: number;
  /** 16×16 register tile per thread (true) or 8×8. */
  WIDE: boolean;
}

/**
 * CPU-backed adapters (lavapipe/llvmpipe, SwiftShader) pay one scalar load per SIMD lane for every
 * workgroup-memory read, so they want the largest register tile and few threads.
 */
export const MATMUL_CPU_BACKED: Readonly<MatmulConfig> = { WG_X: 8, WG_Y: 8, BK: 32, WIDE: true };
/** Real GPUs want the small register tile with many threads: the wide one needs more registers than they have. */
export const MATMUL_GPU: Readonly<MatmulConfig> = { WG_X: 16, WG_Y: 16, BK: 16, WIDE: false };

/**
 * Which linear kernel runs: 'tiled' (lib/linear.wgsl, the register tile in an array) or
 * 'register' (the generated kernel with named accumulators, src/kernels/gpu/matmul-gen.ts).
 */
export type MatmulKind = 'tiled' | 'register';
export const MATMUL_KINDS: readonly MatmulKind[] = ['tiled', 'register'];

/**
 * The linear kernel before (or without) a measurement. CPU-backed adapters keep it: the generated
 * kernel is slower there and takes far longer to compile (bench:kernels --matmul tiled,register
 * measures both). On other adapters the GPU backend times both kernels once when it is created
 * (src/kernels/gpu/matmul-tune.ts) and runs the faster.
 */
export const MATMUL_DEFAULT_KIND: MatmulKind = 'tiled';

/** The product the kernels are timed on: large enough for 128×128 tiles to fill a large GPU. */
export const MATMUL_TUNE_SHAPE: readonly [number, number, number] = [2048, 2048, 2048];
/** Timed runs per kernel (after one untimed run that compiles it); the median counts. */
export const MATMUL_TUNE_REPS = 3;

/** Environment variable that overrides the default linear kernel (benchmarks' A/B runs). */
export const MATMUL_KIND_ENV = 'SLIMLLM_MATMUL';

/**
 * The register-resident linear kernel on real GPUs (src/kernels/gpu/matmul-gen.ts): 128×128
 * outputs per workgroup of 16×16 threads, 8×8 per thread, double-buffered BK-16 slices.
 */
export const MATMUL_RR_GPU = { WG_X: 16, WG_Y: 16, TM: 8, TN: 8, BK: 16, prefetch: true } as const;
/** Its 64×64-tile form (4×4 per thread), for products with too few 128×128 tiles to fill a GPU. */
export const MATMUL_RR_GPU_SMALL = { ...MATMUL_RR_GPU, TM: 4, TN: 4 } as const;
/** Below this many 128×128 output tiles a product takes the 64×64 form: about two waves of a large GPU's cores. */
export const MATMUL_RR_MIN_WORKGROUPS = 256;

/** Flat elementwise kernels (one invocation per element): a multiple of every vendor's SIMD width. */
export const FLAT_WG = 256;
/** Kernels with one invocation per row or per (row, head): rows are few, so small groups keep all cores fed. */
export const ROW_ITEM_WG = 64;
/** Row reductions (one workgroup per row): a tree over this many partial sums; rows are a few thousand wide. */
export const ROW_REDUCE_WG = 64;
/** The single-workgroup vector sum: as many threads as one workgroup usually has. */
export const SUM_WG = 256;

/** Column statistics: columns per workgroup, each summed by this many row phases (coalesced reads along a row). */
export const COLSTATS_WG: readonly [number, number] = [64, 4];

/**
 * Cholesky block size: the diagonal block is factored in workgroup memory and every row of the
 * panel keeps one block row in registers, so it must stay small; larger blocks mean fewer dispatches.
 */
export const CHOLESKY_BLOCK = 32;
/** Threads that factor one diagonal block together: enough to cover the block's lower triangle in a few passes. */
export const CHOLESKY_DIAG_WG = 256;
/** The trailing update computes 2×2 outputs per thread, so a block tile needs half a block of threads per side. */
export const CHOLESKY_SYRK_WG: readonly [number, number] = [CHOLESKY_BLOCK / 2, CHOLESKY_BLOCK / 2];
/** The triangular-solve update: threads per tile, split into rows × right-hand-side columns. */
export const SOLVE_UPDATE_WG = 256;
/** Widest column tile of the solve update: wider tiles would leave too few rows per workgroup. */
export const SOLVE_MAX_TILE_COLS = 16;
