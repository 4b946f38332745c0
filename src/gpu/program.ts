// A GPU kernel described once, and the one runner that executes such descriptions.
//
// A KernelProgram names its shader file and entry point, its uniforms by name and type (in the
// order of the WGSL uniform struct, which is checked when the shader loads), its workgroup size
// (passed to the shader as override constants WG, or WG_X and WG_Y: the WGSL never repeats it)
// and how many workgroups a dispatch of a given size needs. runProgram() does the rest: pipeline
// lookup, uniform packing, binding and the dispatch. The shape follows ONNX Runtime's WebGPU
// ProgramInfo and tfjs-backend-webgpu's WebGPUProgram.
import type { GpuContext } from './context.js';
import type { Defines, GeneratedCode } from './pipelines.js';
import type { Workgroups } from './submission.js';
import { type PackedUniforms, packUniforms, type UniformType } from './uniforms.js';
import { entryUniform } from './wgsl-reflect.js';

export type { UniformType };
/** Uniform fields, in WGSL struct order, with their types. */
export type UniformSpec = Readonly<Record<string, UniformType>>;
/** A value for every uniform field, by name. */
export type UniformValues<U extends UniformSpec> = { readonly [K in keyof U]: number };
export type WorkgroupSize = readonly [number] | readonly [number, number];

export interface KernelProgram<U extends UniformSpec = UniformSpec, V = void, S = number> {
  readonly shader: string;
  readonly entryPoint: string;
  readonly uniforms: U;
  /** Threads per workgroup, for every variant or per variant. */
  readonly workgroupSize: WorkgroupSize | ((variant: V) => WorkgroupSize);
  /** Override constants of a variant besides the workgroup size. */
  readonly constants?: (variant: V) => Record<string, number>;
  /** `const NAME: u32` lines a variant needs (sizes that overrides cannot set). */
  readonly defines?: (variant: V) => Defines;
  /**
   * WGSL a variant needs that the host writes (appended to the shader), e.g. a `main` unrolled
   * for one tile configuration; a function of the variant alone (its text is cached per variant).
   */
  readonly generate?: (variant: V) => string;
  /** The variant the shader is compiled with when it loads (to validate its defines and generated code). */
  readonly sampleVariant?: V;
  /** Workgroup counts for a dispatch of `size`; what `size` counts is the kernel's to say. */
  readonly grid: (size: S, at: GridContext<V>) => Workgroups;
}

/** What a grid function may use besides the size: the resolved workgroup size, variant and device. */
export interface GridContext<V> {
  readonly workgroupSize: WorkgroupSize;
  readonly variant: V;
  readonly ctx: GpuContext;
}

// Programs differ in their type parameters; collections of them only need the common shape.
export type AnyKernelProgram = KernelProgram<any, any, any>;

export type ProgramCall<U extends UniformSpec, V, S> = {
  /** Storage buffers in WGSL binding order (the uniform block follows them). */
  readonly bindings: (GPUBuffer | GPUBufferBinding)[];
  readonly uniforms: UniformValues<U>;
  readonly size: S;
} & ([V] extends [void] ? { readonly variant?: undefined } : { readonly variant: V });

export function programName(p: AnyKernelProgram): string {
  return `${p.shader}.${p.entryPoint}`;
}

function workgroupSizeOf<V>(p: { workgroupSize: WorkgroupSize | ((variant: V) => WorkgroupSize) }, variant: V): WorkgroupSize {
  return typeof p.workgroupSize === 'function' ? p.workgroupSize(variant) : p.workgroupSize;
}

/** The override constants that carry a workgroup size into WGSL. */
export function workgroupConstants(wg: WorkgroupSize): Record<string, number> {
  return wg.length === 1 ? { WG: wg[0] } : { WG_X: wg[0], WG_Y: wg[1] };
}

/** Defines the shader of `p` is validated with when it loads. */
export function loadDefines(p: AnyKernelProgram): Defines {
  return p.defines?.(p.sampleVariant) ?? {};
}

const generatedTexts = new WeakMap<AnyKernelProgram, Map<string, GeneratedCode>>();
let generatedCount = 0;

/** The code `p` generates for `variant` (undefined when it generates none), written once per variant. */
export function generatedCode<V>(p: KernelProgram<any, V, any>, variant: V): GeneratedCode | undefined {
  if (!p.generate) return undefined;
  let byVariant = generatedTexts.get(p);
  if (!byVariant) generatedTexts.set(p, (byVariant = new Map()));
  const variantKey = JSON.stringify(variant) ?? '';
  let g = byVariant.get(variantKey);
  if (!g) {
    g = { key: `gen${generatedCount++}`, code: p.generate(variant) };
    byVariant.set(variantKey, g);
  }
  return g;
}

function describe(fields: readonly { name: string; type: string }[], i: number): string {
  const f = fields[i];
  return f ? `'${f.name}: ${f.type}'` : 'nothing';
}

/**
 * Checks the program's named uniforms against the WGSL uniform struct its entry point reads
 * (`code`: the shader with includes resolved): same names, order and types. Throws an error
 * naming the shader, the entry point and the first field that differs.
 */
export function checkUniforms(p: AnyKernelProgram, code: string, shaderFile: string): void {
  const where = `kernel '${programName(p)}' (${shaderFile})`;
  let wgsl;
  try {
    wgsl = entryUniform(code, p.entryPoint);
  } catch (e) {
    throw new Error(`slimllm: ${where}: ${(e as Error).message}`);
  }
  const declared = Object.entries(p.uniforms as UniformSpec).map(([name, type]) => ({ name, type }));
  const fields = wgsl?.fields ?? [];
  const struct = wgsl ? `uniform struct ${wgsl.struct}` : 'no uniform struct';
  for (let i = 0; i < Math.max(declared.length, fields.length); i++) {
    const a = declared[i];
    const b = fields[i];
    if (a && b && a.name === b.name && a.type === b.type) continue;
    throw new Error(
      `slimllm: ${where}: uniform field ${i} is ${describe(fields, i)} in the WGSL (${struct}) but ` +
        `${describe(declared, i)} in the kernel description`,
    );
  }
}

function packFor<U extends UniformSpec>(p: AnyKernelProgram & { uniforms: U }, values: UniformValues<U>): PackedUniforms | null {
  const names = Object.keys(p.uniforms);
  if (names.length === 0) return null;
  return packUniforms(
    names.map((n) => p.uniforms[n]),
    names.map((n) => {
      const v = values[n];
      if (typeof v !== 'number') throw new Error(`slimllm: kernel '${programName(p)}': no value for uniform '${n}'`);
      return v;
    }),
  );
}

/** Encodes one dispatch of `p`: pipeline (cached), uniforms by name, bindings, grid from `size`. */
export function runProgram<U extends UniformSpec, V, S>(ctx: GpuContext, p: KernelProgram<U, V, S>, call: ProgramCall<U, V, S>): void {
  if (!ctx.programLoaded(p)) throw new Error(`slimllm: kernel '${programName(p)}' used before loadPrograms()`);
  const variant = call.variant as V;
  const wg = workgroupSizeOf(p, variant);
  const constants = { ...workgroupConstants(wg), ...p.constants?.(variant) };
  const pipeline = ctx.pipeline(p.shader, p.entryPoint, constants, p.defines?.(variant) ?? {}, generatedCode(p, variant));
  ctx.dispatch(pipeline, call.bindings, packFor(p, call.uniforms), p.grid(call.size, { workgroupSize: wg, variant, ctx }));
}
