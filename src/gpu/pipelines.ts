// Shader modules and compute pipelines, each compiled once. A module is a shader file with its
// includes resolved (src/gpu/shaders.ts) and, optionally, host `defines` prepended as
// `const NAME: u32 = V;` lines (for what override constants cannot size, e.g. a function-scope
// array) and host-generated code appended (e.g. a fully unrolled `main`, src/gpu/program.ts).
// Compile errors are reported at the file and line they were written.
import { type ShaderText, type SourceLine, shaderText } from './shaders.js';

export type Defines = Readonly<Record<string, number>>;

/** WGSL the host wrote for one variant of a kernel, under a short key that names it in caches. */
export interface GeneratedCode {
  readonly key: string;
  readonly code: string;
}

function defineKey(defines: Defines): string {
  return Object.entries(defines)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The module's code: define lines, the shader, generated code; with the origin of every line. */
export function moduleText(name: string, defines: Defines, generated?: GeneratedCode): ShaderText {
  const shader = shaderText(name);
  const head = Object.entries(defines).map(([k, v]) => `const ${k}: u32 = ${v >>> 0}u;`);
  const tail = generated ? generated.code.split('\n') : [];
  if (head.length === 0 && tail.length === 0) return shader;
  const hostLines: SourceLine[] = head.map((_, i) => ({ file: `<host defines of ${name}>`, line: i + 1 }));
  const genLines: SourceLine[] = tail.map((_, i) => ({ file: `<generated ${generated?.key} of ${name}>`, line: i + 1 }));
  return {
    code: [...head, shader.code, ...tail].join('\n'),
    lines: [...hostLines, ...shader.lines, ...genLines],
  };
}

export class PipelineCache {
  private modules = new Map<string, GPUShaderModule>();
  private pipelines = new Map<string, GPUComputePipeline>();

  constructor(private readonly device: GPUDevice) {}

  private static moduleKey(name: string, defines: Defines, generated?: GeneratedCode): string {
    const k = [defineKey(defines), generated?.key ?? ''].filter((x) => x !== '').join('|');
    return k ? `${name}|${k}` : name;
  }

  /**
   * Compiles (once) a shader with the given defines and reports WGSL errors with file and line.
   * Later variants of the same shader with other defines are compiled from the validated source.
   */
  async load(name: string, defines: Defines = {}, generated?: GeneratedCode): Promise<GPUShaderModule> {
    const key = PipelineCache.moduleKey(name, defines, generated);
    const known = this.modules.get(key);
    if (known) return known;
    const text = moduleText(name, defines, generated);
    this.device.pushErrorScope('validation');
    const mod = this.device.createShaderModule({ code: text.code, label: key });
    const info = await mod.getCompilationInfo();
    const scopeErr = await this.device.popErrorScope();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0 || scopeErr) {
      const lines = errors.map((m) => {
        const at = text.lines[m.lineNum - 1];
        return at ? `${at.file}:${at.line}:${m.linePos}: ${m.message}` : `${name}:${m.lineNum}:${m.linePos}: ${m.message}`;
      });
      if (lines.length === 0 && scopeErr) lines.push(`${text.lines[0]?.file ?? name}: ${scopeErr.message}`);
      throw new Error(`WGSL compile error in shader '${name}':\n${lines.join('\n')}`);
    }
    this.modules.set(key, mod);
    this.modules.set(name, this.modules.get(name) ?? mod); // the shader counts as loaded under its name too
    return mod;
  }

  /** True once the shader has been loaded (validated) with some defines. */
  loaded(name: string): boolean {
    return this.modules.has(name);
  }

  private module(name: string, defines: Defines, generated?: GeneratedCode): GPUShaderModule {
    if (!this.modules.has(name)) throw new Error(`slimllm: shader '${name}' used before loadShader()`);
    const key = PipelineCache.moduleKey(name, defines, generated);
    let mod = this.modules.get(key);
    if (!mod) {
      mod = this.device.createShaderModule({ code: moduleText(name, defines, generated).code, label: key });
      this.modules.set(key, mod);
    }
    return mod;
  }

  /** A cached compute pipeline; `constants` set WGSL `override`s. */
  get(shader: string, entryPoint = 'main', constants: Record<string, number> = {}, defines: Defines = {}, generated?: GeneratedCode): GPUComputePipeline {
    const key = `${shader}:${entryPoint}:${JSON.stringify(constants)}:${defineKey(defines)}:${generated?.key ?? ''}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    p = this.device.createComputePipeline({
      layout: 'auto',
      label: key,
      compute: { module: this.module(shader, defines, generated), entryPoint, constants },
    });
    this.pipelines.set(key, p);
    return p;
  }
}
