// Writes the `main` of the register-resident matmul kernels (shaders/linear_rr_*.wgsl,
// gram_rr_*.wgsl) as WGSL text, for one tile configuration.
//
// Why generated: WGSL has no unroll pragma, and a register tile kept in a function-scope array is
// indexed through pointers and loop counters, which a driver may leave in local memory (every
// FMA then a load and a store). Here every accumulator is a named `vec4` variable and every use of
// one is written out with constant names, so no array of them exists to be spilled. The inner-
// dimension loop stays a loop: it indexes workgroup memory only.
//
// The tile: a workgroup of WG_X × WG_Y threads computes BM × BN outputs (BM = WG_Y·TM,
// BN = WG_X·TN). A thread's TM × TN outputs are (TM/4) × (TN/4) blocks of 4 × 4, the blocks of one
// thread WG_Y·4 rows (WG_X·4 columns) apart, so that neighbouring threads read neighbouring
// vec4s of workgroup memory (no bank conflicts) and write neighbouring columns of the output.
//
// With `prefetch`, the workgroup tiles are double-buffered: the global loads of slice s + 1 are
// issued into registers before slice s is multiplied and stored into the other buffer after it,
// so the memory latency overlaps the FMAs, with one barrier per slice. Without it (for CPU-backed
// adapters, where registers are dear and latency is not the problem) a slice is loaded, then
// multiplied, with two barriers.
//
// The including shader provides the hooks the generated code calls:
//   fn innerLength() -> u32                     the inner dimension (K, or the rows of a Gram)
//   fn tileOrigin(wid: vec3<u32>) -> vec2<u32>  first output row and column of the workgroup
//   fn skipTile(m0: u32, n0: u32) -> bool      true: the tile at that origin is not computed (it
//                                               depends on uniforms and the workgroup only, so the
//                                               early return keeps the barriers in uniform flow)
//   fn fetchA(i: u32, j: u32) -> vec4<f32>      4 consecutive values of operand A, zero outside
//   fn fetchB(i: u32, j: u32) -> vec4<f32>      the same for B
//   fn storeOut(m: u32, n: u32, v: vec4<f32>)   output row m, columns n..n+3 (bounds are its own)
// With layout 'rows' (linear: A = X [M×K], B = W [N×K]), fetchA(m, k) returns k..k+3 of row m and
// the generated code transposes it into the [k][m] tile; with 'cols' (Gram: both operands are
// columns of one row-major X), fetchA(k, m) returns columns m..m+3 of row k, already [k][m].

/** One register-resident tile configuration. */
export interface RegisterTileConfig {
  /** Threads along the output's columns and rows. */
  readonly WG_X: number;
  readonly WG_Y: number;
  /** Output rows and columns per thread (multiples of 4). */
  readonly TM: number;
  readonly TN: number;
  /** Inner-dimension slice per workgroup tile (multiple of 4). */
  readonly BK: number;
  /** Double-buffered tiles with register prefetch (one barrier per slice). */
  readonly prefetch: boolean;
}

export type OperandLayout = 'rows' | 'cols';

export function tileRows(cfg: RegisterTileConfig): number {
  return cfg.WG_Y * cfg.TM;
}
export function tileCols(cfg: RegisterTileConfig): number {
  return cfg.WG_X * cfg.TN;
}

/** Global loads of one operand's slice per thread (a whole number: checked). */
function loadsPerThread(cfg: RegisterTileConfig, tileSide: number): number {
  const vec4s = (tileSide * cfg.BK) / 4;
  return vec4s / (cfg.WG_X * cfg.WG_Y);
}

/** Why a configuration cannot be generated, or null. */
export function registerTileProblem(cfg: RegisterTileConfig): string | null {
  const { TM, TN, BK } = cfg;
  if ([TM, TN, BK].some((v) => !Number.isInteger(v) || v < 4 || v % 4 !== 0)) return `TM, TN and BK must be positive multiples of 4 (got ${TM}, ${TN}, ${BK})`;
  for (const side of [tileRows(cfg), tileCols(cfg)]) {
    const loads = loadsPerThread(cfg, side);
    if (!Number.isInteger(loads) || loads < 1) return `a ${side}×${BK} slice is not a whole number of vec4 loads per thread`;
  }
  return null;
}

/** Bytes of workgroup memory the configuration uses. */
export function registerTileWorkgroupBytes(cfg: RegisterTileConfig): number {
  const buffers = cfg.prefetch ? 2 : 1;
  return buffers * cfg.BK * (tileRows(cfg) + tileCols(cfg)) * 4;
}

const LANES = ['x', 'y', 'z', 'w'];
const acc = (bi: number, r: number, bj: number) => `c${bi}_${r}_${bj}`;

/** Names of the accumulators, in (row block, row, column block) order. */
function accumulators(cfg: RegisterTileConfig): string[] {
  const names: string[] = [];
  for (let bi = 0; bi < cfg.TM / 4; bi++) for (let r = 0; r < 4; r++) for (let bj = 0; bj < cfg.TN / 4; bj++) names.push(acc(bi, r, bj));
  return names;
}

/** The multiply of one k: TM/4 + TN/4 vec4 reads of workgroup memory, TM·TN/4 vec4 FMAs. */
function multiplyStep(cfg: RegisterTileConfig): string[] {
  const lines: string[] = [];
  for (let bi = 0; bi < cfg.TM / 4; bi++) lines.push(`let a${bi} = As[ab + k * BM4 + ${bi * cfg.WG_Y}u + ty];`);
  for (let bj = 0; bj < cfg.TN / 4; bj++) lines.push(`let b${bj} = Bs[bb + k * BN4 + ${bj * cfg.WG_X}u + tx];`);
  for (let bi = 0; bi < cfg.TM / 4; bi++) {
    for (let r = 0; r < 4; r++) {
      for (let bj = 0; bj < cfg.TN / 4; bj++) {
        const c = acc(bi, r, bj);
        lines.push(`${c} = fma(vec4<f32>(a${bi}.${LANES[r]}), b${bj}, ${c});`);
      }
    }
  }
  return lines;
}

interface Operand {
  readonly name: 'A' | 'B';
  /** Rows (A) or columns (B) of the output tile: the operand tile's side. */
  readonly side: number;
  /** The tile origin's component along this side. */
  readonly origin: 'm0' | 'n0';
}

/**
 * Load `j` of an operand's slice at inner offset `k0`: the fetch, and the statements that store
 * the fetched vec4 `v` at buffer offset `base` of the operand's workgroup tile ([k][side], vec4s).
 */
function loadAt(cfg: RegisterTileConfig, layout: OperandLayout, op: Operand, j: number, k0: string) {
  const l = `(li + ${j * cfg.WG_X * cfg.WG_Y}u)`;
  const side4 = op.side / 4;
  const tile = `${op.name}s`;
  if (layout === 'rows') {
    // Thread l reads 4 consecutive k of one row (neighbouring threads read along the row); element
    // c is k = 4·kq + c: tile row k, lane row % 4 of vec4 row / 4.
    const bk4 = cfg.BK / 4;
    const row = `(${l} / ${bk4}u)`;
    const kq = `(${l} % ${bk4}u)`;
    return {
      fetch: `fetch${op.name}(${op.origin} + ${row}, ${k0} + ${kq} * 4u)`,
      store: (base: string, v: string) =>
        LANES.map((lane, c) => `${tile}[${base} + (${kq} * 4u + ${c}u) * ${side4}u + ${row} / 4u][${row} % 4u] = ${v}.${lane};`),
    };
  }
  // 'cols': thread l reads columns 4q..4q+3 of row k, already a vec4 of the [k][side] tile.
  const k = `(${l} / ${side4}u)`;
  const q = `(${l} % ${side4}u)`;
  return {
    fetch: `fetch${op.name}(${k0} + ${k}, ${op.origin} + ${q} * 4u)`,
    store: (base: string, v: string) => [`${tile}[${base} + ${k} * ${side4}u + ${q}] = ${v};`],
  };
}

/** Fetches of slice `k0` into staging registers (`let` or assignment), then their stores. */
function sliceCopy(cfg: RegisterTileConfig, layout: OperandLayout, ops: Operand[], k0: string, base: (op: Operand) => string) {
  const fetches: string[] = [];
  const stores: string[] = [];
  const registers: string[] = [];
  for (const op of ops) {
    for (let j = 0; j < loadsPerThread(cfg, op.side); j++) {
      const at = loadAt(cfg, layout, op, j, k0);
      const reg = `s${op.name}${j}`;
      registers.push(reg);
      fetches.push(`${reg} = ${at.fetch};`);
      stores.push(...at.store(base(op), reg));
    }
  }
  return { fetches, stores, registers };
}

function constants(cfg: RegisterTileConfig): string[] {
  const BM = tileRows(cfg);
  const BN = tileCols(cfg);
  const buffers = cfg.prefetch ? 2 : 1;
  return [
    'override WG_X: u32;',
    'override WG_Y: u32;',
    `const BM4: u32 = ${BM / 4}u;`,
    `const BN4: u32 = ${BN / 4}u;`,
    `const BK: u32 = ${cfg.BK}u;`,
    `const A_SLICE: u32 = ${(cfg.BK * BM) / 4}u;`,
    `const B_SLICE: u32 = ${(cfg.BK * BN) / 4}u;`,
    `var<workgroup> As: array<vec4<f32>, ${buffers * ((cfg.BK * BM) / 4)}>;`,
    `var<workgroup> Bs: array<vec4<f32>, ${buffers * ((cfg.BK * BN) / 4)}>;`,
  ];
}

function epilogue(cfg: RegisterTileConfig): string[] {
  const lines: string[] = [];
  for (let bi = 0; bi < cfg.TM / 4; bi++) {
    for (let r = 0; r < 4; r++) {
      for (let bj = 0; bj < cfg.TN / 4; bj++) {
        lines.push(`storeOut(m0 + ${bi * cfg.WG_Y * 4 + r}u + ty * 4u, n0 + ${bj * cfg.WG_X * 4}u + tx * 4u, ${acc(bi, r, bj)});`);
      }
    }
  }
  return lines;
}

function indent(lines: string[], depth: number): string[] {
  return lines.map((l) => `${'  '.repeat(depth)}${l}`);
}

/** The slice loop: double-buffered with register prefetch, or load-then-multiply. */
function sliceLoop(cfg: RegisterTileConfig, layout: OperandLayout, ops: Operand[]): string[] {
  const step = multiplyStep(cfg);
  if (!cfg.prefetch) {
    const copy = sliceCopy(cfg, layout, ops, 's * BK', () => '0u');
    return [
      'for (var s = 0u; s < steps; s++) {',
      ...indent(copy.fetches.map((f) => `let ${f}`), 1),
      ...indent(copy.stores, 1),
      '  workgroupBarrier();',
      '  let ab = 0u; let bb = 0u;',
      '  for (var k = 0u; k < BK; k++) {',
      ...indent(step, 2),
      '  }',
      '  workgroupBarrier();',
      '}',
    ];
  }
  const first = sliceCopy(cfg, layout, ops, '0u', () => '0u');
  const next = sliceCopy(cfg, layout, ops, '(s + 1u) * BK', (op) => `nb * ${op.name}_SLICE`);
  return [
    ...first.registers.map((r) => `var ${r}: vec4<f32>;`),
    ...first.fetches,
    ...first.stores,
    'workgroupBarrier();',
    'for (var s = 0u; s < steps; s++) {',
    '  let cb = s % 2u; let nb = 1u - cb;',
    '  let more = s + 1u < steps;',
    '  if (more) {',
    ...indent(next.fetches, 2),
    '  }',
    '  let ab = cb * A_SLICE; let bb = cb * B_SLICE;',
    '  for (var k = 0u; k < BK; k++) {',
    ...indent(step, 2),
    '  }',
    '  if (more) {',
    ...indent(next.stores, 2),
    '  }',
    '  workgroupBarrier();',
    '}',
  ];
}

/** The WGSL of the kernel's tile constants, workgroup tiles and `main` for one configuration. */
export function registerTileMain(cfg: RegisterTileConfig, layout: OperandLayout): string {
  const problem = registerTileProblem(cfg);
  if (problem) throw new Error(`register-tile matmul: ${problem}`);
  const ops: Operand[] = [
    { name: 'A', side: tileRows(cfg), origin: 'm0' },
    { name: 'B', side: tileCols(cfg), origin: 'n0' },
  ];
  const body = [
    'let origin = tileOrigin(wid);',
    'let m0 = origin.x; let n0 = origin.y;',
    'if (skipTile(m0, n0)) { return; }',
    'let tx = lid.x; let ty = lid.y;',
    ...accumulators(cfg).map((c) => `var ${c} = vec4<f32>(0.0);`),
    'let steps = (innerLength() + BK - 1u) / BK;',
    ...sliceLoop(cfg, layout, ops),
    ...epilogue(cfg),
  ];
  return [
    `// Generated by src/kernels/gpu/matmul-gen.ts for ${JSON.stringify({ ...cfg, layout })}.`,
    ...constants(cfg),
    '',
    '@compute @workgroup_size(WG_X, WG_Y)',
    'fn main(',
    '  @builtin(local_invocation_id) lid: vec3<u32>,',
    '  @builtin(workgroup_id) wid: vec3<u32>,',
    '  @builtin(local_invocation_index) li: u32,',
    ') {',
    ...indent(body, 1),
    '}',
    '',
  ].join('\n');
}
