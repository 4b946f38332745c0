// Where the linear kernels keep their register tile: reads the SPIR-V that Dawn's Tint emits for
// each kernel (the same on every Vulkan driver) and reports its function-scope arrays and how
// they are indexed. A register tile held in an array indexed by run-time values can only live in
// registers if the driver unrolls every loop around it; otherwise it goes to local memory and
// every FMA becomes a load, an FMA and a store.
//
//   npm run build && node dist/bench/shader-registers.js [--kinds tiled,register]
//
// Each kernel runs once, with its real-GPU tile configuration, in a child process whose Dawn
// prints the shaders it compiles. Prints one line per kernel, then (last line) JSON:
//   { provenance, adapter, kernels: [ { kind, config, modules: [ { functionArrays, dynamicAccesses } ] } ] }
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { GpuContext } from '../src/gpu/context.js';
import { MATMUL_GPU, MATMUL_KINDS, MATMUL_RR_GPU, type MatmulKind } from '../src/gpu/tuning.js';
import { LINEAR_PROGRAMS, linear, type MatmulOptions } from '../src/kernels/gpu/linear.js';
import { isMain, parseFlags, provenance } from './common.js';

const SPIRV_START = '/* Dumped SPIRV disassembly */';

/** The real-GPU configuration of each kernel: what the SPIR-V is read for. */
const KERNEL_OPTIONS: Record<MatmulKind, MatmulOptions> = {
  tiled: { config: MATMUL_GPU },
  register: { registerTile: MATMUL_RR_GPU },
};

export interface FunctionArray {
  name: string;
  /** OpAccessChain uses with a run-time index, and with constant indices only. */
  dynamicAccesses: number;
  constantAccesses: number;
}

export interface ModuleReport {
  functionArrays: FunctionArray[];
  dynamicAccesses: number;
}

/** The SPIR-V disassemblies in a Dawn shader dump, in order. */
export function spirvBlocks(dump: string): string[] {
  return dump
    .split(SPIRV_START)
    .slice(1)
    .map((b) => b.split(/\ninfo:\n/)[0]);
}

/** Function-storage arrays of one SPIR-V module and how its access chains index them. */
export function analyseSpirv(spirv: string): ModuleReport {
  const lines = spirv.split('\n').map((l) => l.trim());
  const def = (l: string) => /^(%\w+) = (\w+) ?(.*)$/.exec(l);
  const arrayTypes = new Set<string>();
  const constants = new Set<string>();
  const fnArrayPointers = new Set<string>();
  const names = new Map<string, string>();
  for (const l of lines) {
    const n = /^OpName (%\w+) "([^"]*)"/.exec(l);
    if (n) names.set(n[1], n[2]);
    const d = def(l);
    if (!d) continue;
    const [, id, op, rest] = d;
    if (op === 'OpTypeArray') arrayTypes.add(id);
    if (op === 'OpConstant' || op === 'OpConstantNull' || op === 'OpConstantComposite') constants.add(id);
    const ptr = /^Function (%\w+)/.exec(rest);
    if (op === 'OpTypePointer' && ptr && arrayTypes.has(ptr[1])) fnArrayPointers.add(id);
  }
  // A function-scope array: its variable, and every function parameter that points to one (the
  // callee indexes the caller's array through it; counted under the parameter's name).
  const arrays = new Map<string, FunctionArray>();
  for (const l of lines) {
    const d = def(l);
    if (!d) continue;
    const type = d[3].split(' ')[0];
    const variable = d[2] === 'OpVariable' && / Function\b/.test(d[3]);
    if (fnArrayPointers.has(type) && (variable || d[2] === 'OpFunctionParameter')) {
      arrays.set(d[1], { name: names.get(d[1]) ?? d[1], dynamicAccesses: 0, constantAccesses: 0 });
    }
  }
  for (const l of lines) {
    const d = def(l);
    if (!d || (d[2] !== 'OpAccessChain' && d[2] !== 'OpInBoundsAccessChain')) continue;
    const [, base, ...indices] = d[3].split(' ');
    const arr = arrays.get(base);
    if (!arr) continue;
    if (indices.every((i) => constants.has(i))) arr.constantAccesses++;
    else arr.dynamicAccesses++;
  }
  const functionArrays = [...arrays.values()];
  return { functionArrays, dynamicAccesses: functionArrays.reduce((s, a) => s + a.dynamicAccesses, 0) };
}

/** Child: runs one kernel on a device that dumps its shaders (to stdout). */
async function runKernel(kind: MatmulKind): Promise<void> {
  const ctx = await GpuContext.create({ dumpShaders: true });
  try {
    await ctx.loadPrograms(LINEAR_PROGRAMS);
    const [M, K, N] = [256, 256, 256];
    const x = ctx.upload(new Float32Array(M * K).fill(1), [M, K]);
    const w = ctx.upload(new Float32Array(N * K).fill(1), [N, K]);
    const y = await ctx.read(linear(ctx, x, w, null, KERNEL_OPTIONS[kind]));
    if (y[0] !== K) throw new Error(`${kind} kernel computed ${y[0]}, not ${K}`);
  } finally {
    ctx.dispose();
  }
}

export function kernelModules(kind: MatmulKind): ModuleReport[] {
  const script = fileURLToPath(import.meta.url);
  const out = execFileSync(process.execPath, [script, '--child', kind], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
  const blocks = spirvBlocks(out);
  if (blocks.length === 0) throw new Error(`no SPIR-V in the shader dump of the ${kind} kernel: does this Dawn build dump shaders?`);
  return blocks.map(analyseSpirv).filter((m, i) => blocks[i].includes('"storeOut"') || blocks[i].includes('"storeY"') || m.functionArrays.length > 0);
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), { kinds: 'string', child: 'string' });
  if (typeof flags.child === 'string') return runKernel(flags.child as MatmulKind);
  const kinds = (typeof flags.kinds === 'string' ? flags.kinds.split(',') : [...MATMUL_KINDS]) as MatmulKind[];
  for (const k of kinds) if (!MATMUL_KINDS.includes(k)) throw new Error(`--kinds: '${k}' is not a linear kernel (${MATMUL_KINDS.join(', ')})`);
  const ctx = await GpuContext.create();
  const adapter = ctx.adapterName;
  ctx.dispose();
  const kernels = kinds.map((kind) => {
    const modules = kernelModules(kind);
    for (const m of modules) {
      const arrays = m.functionArrays.map((a) => `${a.name} (${a.dynamicAccesses} run-time, ${a.constantAccesses} constant indexings)`);
      console.log(`${kind}: ${arrays.length === 0 ? 'no function-scope arrays' : arrays.join('; ')}`);
    }
    return { kind, config: KERNEL_OPTIONS[kind], modules };
  });
  console.log(JSON.stringify({ provenance: provenance(), adapter, kernels }));
}

if (isMain(import.meta.url)) {
  main().catch((e) => {
    console.error(`shader-registers: ${(e as Error).message}`);
    process.exit(1);
  });
}
