// The GPU runtime's facade: one device, composed of the pipeline cache (src/gpu/pipelines.ts), the
// buffer pool (src/gpu/buffers.ts) and submission/readback (src/gpu/submission.ts). Kernels are
// KernelPrograms (src/gpu/program.ts) run through runProgram(); they enqueue work synchronously
// and only reads wait for the GPU.
import { BufferPool } from './buffers.js';
import { acquireDevice, type DeviceOptions } from './device.js';
import { type Defines, type GeneratedCode, moduleText, PipelineCache } from './pipelines.js';
import { type AnyKernelProgram, checkUniforms, generatedCode, loadDefines } from './program.js';
import { shaderPath } from './shaders.js';
import { Submission, type Workgroups } from './submission.js';
import { timePasses } from './timestamps.js';
import { MATMUL_DEFAULT_KIND, type MatmulKind } from './tuning.js';

/**
 * The linear kernel a context runs and where that choice came from: the default, the environment
 * (SLIMLLM_MATMUL), the adapter (CPU-backed: not measured), or a measurement of both kernels
 * (`ms`: each one's median time on the tuning product).
 */
export interface MatmulChoice {
  readonly kind: MatmulKind;
  readonly source: 'default' | 'environment' | 'adapter' | 'measured';
  readonly ms?: Readonly<Record<MatmulKind, number>>;
  readonly timing?: 'timestamp' | 'wall';
}
import type { PackedUniforms } from './uniforms.js';

export interface GpuTensor {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly size: number; // elements (f32)
}

/** A shader to load: its name, or its name with sample `defines` to validate it with. */
export type ShaderSpec = string | { name: string; defines: Record<string, number> };

export class GpuContext {
  private readonly pipelines: PipelineCache;
  private readonly pool: BufferPool;
  private readonly queue: Submission;
  private readonly programs = new WeakSet<AnyKernelProgram>();
  private disposed = false;
  /** Which linear kernel products run on, and why (src/kernels/gpu/matmul-tune.ts sets it). */
  matmul: MatmulChoice = { kind: MATMUL_DEFAULT_KIND, source: 'default' };

  private constructor(
    readonly device: GPUDevice,
    readonly adapterName: string,
    /** What the adapter says about itself (vendor, architecture, device, description, …). */
    readonly adapterInfo: Readonly<Record<string, string | number | boolean>>,
    /** Features the adapter offers; `device.features` holds those enabled. */
    readonly adapterFeatures: ReadonlySet<string>,
  ) {
    this.pipelines = new PipelineCache(device);
    this.pool = new BufferPool(device);
    this.queue = new Submission(device, this.pool);
  }

  static async create(options: DeviceOptions = {}): Promise<GpuContext> {
    const d = await acquireDevice(options);
    return new GpuContext(d.device, d.adapterName, d.adapterInfo, d.adapterFeatures);
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }
  /** Bytes in live (not pooled) storage buffers, and the high-water mark. */
  get liveBytes(): number {
    return this.pool.liveBytes;
  }
  get peakBytes(): number {
    return this.pool.peakBytes;
  }
  /** Dispatches encoded since creation (tests check how work was split). */
  get dispatchCount(): number {
    return this.queue.dispatchCount;
  }
  /** How far apart GPU waits poll dawn.node, in ms (src/gpu/poll.ts); 0 = dawn.node's busy polling. */
  get pollIntervalMs(): number {
    return this.queue.pollIntervalMs;
  }
  set pollIntervalMs(ms: number) {
    this.queue.pollIntervalMs = ms;
  }

  // ---- shaders and pipelines -----------------------------------------------------------------

  /** Compiles (once) a shader file; WGSL errors name the file and line they were written at. */
  loadShader(name: string, defines: Defines = {}, generated?: GeneratedCode): Promise<GPUShaderModule> {
    return this.pipelines.load(name, defines, generated);
  }

  async loadShaders(specs: ShaderSpec[]): Promise<void> {
    for (const s of specs) await (typeof s === 'string' ? this.loadShader(s) : this.loadShader(s.name, s.defines));
  }

  /**
   * Loads the shaders of a set of kernels and checks each kernel's named uniforms against its
   * WGSL uniform struct; call once before running them.
   */
  async loadPrograms(programs: readonly AnyKernelProgram[]): Promise<void> {
    for (const p of programs) {
      const defines = loadDefines(p);
      const generated = generatedCode(p, p.sampleVariant);
      await this.loadShader(p.shader, defines, generated);
      checkUniforms(p, moduleText(p.shader, defines, generated).code, shaderPath(p.shader));
      this.programs.add(p);
    }
  }

  programLoaded(p: AnyKernelProgram): boolean {
    return this.programs.has(p);
  }

  /** A cached compute pipeline (`constants`: WGSL overrides; `defines`: see loadShader). */
  pipeline(shader: string, entryPoint = 'main', constants: Record<string, number> = {}, defines: Defines = {}, generated?: GeneratedCode): GPUComputePipeline {
    return this.pipelines.get(shader, entryPoint, constants, defines, generated);
  }

  // ---- buffers -------------------------------------------------------------------------------

  allocBuffer(bytes: number): GPUBuffer {
    return this.pool.alloc(bytes);
  }
  freeBuffer(buf: GPUBuffer): void {
    this.pool.free(buf);
  }

  tensor(shape: readonly number[]): GpuTensor {
    const size = shape.reduce((a, b) => a * b, 1);
    return { buffer: this.allocBuffer(size * 4), shape: [...shape], size };
  }

  upload(data: Float32Array, shape: readonly number[]): GpuTensor {
    const t = this.tensor(shape);
    if (data.length !== t.size) throw new Error(`upload: ${data.length} values for shape [${shape}]`);
    this.queue.write(t.buffer, data);
    return t;
  }

  free(t: GpuTensor): void {
    this.freeBuffer(t.buffer);
  }

  // ---- encoding, submission and readback -----------------------------------------------------

  /** Encodes one dispatch (see Submission.dispatch); kernels go through runProgram(). */
  dispatch(pipeline: GPUComputePipeline, buffers: (GPUBuffer | GPUBufferBinding)[], uniforms: PackedUniforms | null, workgroups: Workgroups): void {
    this.queue.dispatch(pipeline, buffers, uniforms, workgroups);
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.queue.copy(src, srcOffset, dst, dstOffset, bytes);
  }

  submit(): void {
    this.queue.submit();
  }

  /** Reads a tensor back (waits for all work so far). */
  read(t: GpuTensor): Promise<Float32Array> {
    return this.queue.read(t.buffer, t.size);
  }

  readBuffer(buf: GPUBuffer, elements: number, offsetElements = 0): Promise<Float32Array> {
    return this.queue.read(buf, elements, offsetElements);
  }

  /** Waits until the GPU has finished everything submitted. */
  sync(): Promise<void> {
    return this.queue.sync();
  }

  // ---- GPU timing ----------------------------------------------------------------------------

  /** Whether the device can time work with timestamps (`timestamp-query` enabled); see timeGpu. */
  get timestamps(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /**
   * Runs `enqueue` — which encodes kernels and must not wait for the GPU — and resolves to the
   * GPU nanoseconds from the beginning of the first to the end of the last compute pass it
   * encoded (src/gpu/timestamps.ts), waiting for that work. Without timestamps the work is
   * encoded as usual and the result is null. Untimed work pays nothing: only timed work is split
   * off into passes of its own.
   */
  async timeGpu(label: string, enqueue: () => void): Promise<number | null> {
    const synchronous = () => {
      const returned: unknown = enqueue();
      if (returned instanceof Promise) throw new Error(`slimllm: timeGpu('${label}'): enqueue returned a promise; it must only encode work`);
    };
    if (!this.timestamps) {
      synchronous();
      return null;
    }
    return timePasses(this.device, this.queue, label, synchronous);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.queue.dispose();
    this.pool.destroy();
    this.device.destroy();
  }
}
