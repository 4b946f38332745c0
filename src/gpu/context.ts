// The GPU runtime: one device, cached shader modules and pipelines, pooled buffers, and a
// command encoder that batches many dispatches into few submits. Kernels enqueue work
// synchronously; only reads (`read`) wait for the GPU. This matters on dawn.node, where every
// pending promise keeps the JS thread polling.
import { acquireDevice } from './device.js';
import { gentleWait } from './poll.js';
import { shaderPath, shaderSource } from './shaders.js';

export interface GpuTensor {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly size: number; // elements (f32)
}

export type Uniforms = { u32?: number[]; f32?: number[] };

/** A shader to load: its name, or its name with sample `defines` to validate it with. */
export type ShaderSpec = string | { name: string; defines: Record<string, number> };

/** Dispatches encoded before a submit is forced: keeps each command buffer short (watchdogs). */
const MAX_DISPATCHES_PER_SUBMIT = 128;

export class GpuContext {
  private modules = new Map<string, GPUShaderModule>();
  private pipelines = new Map<string, GPUComputePipeline>();
  private freeBuffers = new Map<number, GPUBuffer[]>();
  private freeStaging = new Map<number, GPUBuffer[]>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatchesInEncoder = 0;
  /** Uniform buffers and bind groups by content: a repeated dispatch (matrix-function steps, per-layer
   *  kernels) re-uses them instead of creating objects each time (~0.15 ms each on lavapipe). */
  private uniformCache = new Map<string, GPUBuffer>();
  private bindGroupCache = new Map<string, GPUBindGroup>();
  private bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private deviceError: string | null = null;
  private disposed = false;
  /** Bytes in live (not pooled) storage buffers, and the high-water mark. */
  liveBytes = 0;
  peakBytes = 0;
  /** Dispatches encoded since creation (tests check how work was split). */
  dispatchCount = 0;
  /**
   * While waiting for the GPU, poll dawn.node this many ms apart after a short spin (src/gpu/poll.ts);
   * 0 = dawn.node's own busy polling. Env SLIMLLM_GPU_POLL_MS overrides the default of 1.
   */
  pollIntervalMs = Number(process.env.SLIMLLM_GPU_POLL_MS ?? 1);

  private constructor(
    readonly device: GPUDevice,
    readonly adapterName: string,
    readonly hasF16: boolean,
  ) {
    device.addEventListener('uncapturederror', (ev) => {
      const msg = (ev as GPUUncapturedErrorEvent).error.message;
      this.deviceError ??= msg;
    });
  }

  static async create(): Promise<GpuContext> {
    const d = await acquireDevice();
    return new GpuContext(d.device, d.adapterName, d.hasF16);
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /**
   * Compiles (once) a shader file and reports WGSL errors with file and line. A shader that needs
   * host `defines` (see pipeline()) is validated with the given sample values.
   */
  async loadShader(name: string, defines: Record<string, number> = {}): Promise<GPUShaderModule> {
    let mod = this.modules.get(name);
    if (mod) return mod;
    const head = GpuContext.defineLines(defines);
    const code = head + shaderSource(name);
    this.device.pushErrorScope('validation');
    mod = this.device.createShaderModule({ code, label: name });
    const info = await mod.getCompilationInfo();
    const scopeErr = await this.device.popErrorScope();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0 || scopeErr) {
      const where = shaderPath(name);
      const offset = head ? head.split('\n').length - 1 : 0;
      const lines = errors.map((m) => `${where}:${m.lineNum - offset}:${m.linePos}: ${m.message}`);
      if (lines.length === 0 && scopeErr) lines.push(`${where}: ${scopeErr.message}`);
      throw new Error(`WGSL compile error in shader '${name}':\n${lines.join('\n')}`);
    }
    this.modules.set(name, mod);
    return mod;
  }

  /** Loads every shader a set of kernels needs; call once before encoding work. */
  async loadShaders(specs: ShaderSpec[]): Promise<void> {
    for (const s of specs) {
      if (typeof s === 'string') await this.loadShader(s);
      else await this.loadShader(s.name, s.defines);
    }
  }

  private static defineLines(defines: Record<string, number>): string {
    return Object.entries(defines)
      .map(([k, v]) => `const ${k}: u32 = ${v >>> 0}u;\n`)
      .join('');
  }

  /**
   * A cached compute pipeline. `constants` set WGSL `override`s; `defines` prepend
   * `const NAME: u32 = V;` lines for what overrides cannot size (function-scope arrays, e.g. a
   * per-head-dim accumulator). A variant is compiled from the already-validated base shader.
   */
  pipeline(
    shader: string,
    entryPoint = 'main',
    constants: Record<string, number> = {},
    defines: Record<string, number> = {},
  ): GPUComputePipeline {
    const defineKey = Object.entries(defines).map(([k, v]) => `${k}=${v}`).join(',');
    const key = `${shader}:${entryPoint}:${JSON.stringify(constants)}:${defineKey}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    const base = this.modules.get(shader);
    if (!base) throw new Error(`slimllm: shader '${shader}' used before loadShader()`);
    let module = base;
    if (defineKey) {
      const moduleKey = `${shader}|${defineKey}`;
      module = this.modules.get(moduleKey) as GPUShaderModule;
      if (!module) {
        module = this.device.createShaderModule({ code: GpuContext.defineLines(defines) + shaderSource(shader), label: moduleKey });
        this.modules.set(moduleKey, module);
      }
    }
    p = this.device.createComputePipeline({
      layout: 'auto',
      label: key,
      compute: { module, entryPoint, constants },
    });
    this.pipelines.set(key, p);
    return p;
  }

  // ---- buffers -------------------------------------------------------------------------------

  private static bucket(bytes: number): number {
    // Round up to 256 B, then to a power-of-two-ish bucket (1/4 steps) so that pooled buffers
    // are reused across slightly different sizes without wasting more than ~25 %.
    const b = Math.max(256, Math.ceil(bytes / 256) * 256);
    const p = 2 ** Math.floor(Math.log2(b));
    const step = Math.max(256, p / 4);
    return Math.ceil(b / step) * step;
  }

  /** A storage buffer of at least `bytes` (pooled; contents undefined). */
  allocBuffer(bytes: number): GPUBuffer {
    const size = GpuContext.bucket(bytes);
    if (size > this.limits.maxBufferSize) {
      throw new Error(`slimllm: a ${size}-byte buffer exceeds the device's maxBufferSize ${this.limits.maxBufferSize}`);
    }
    const list = this.freeBuffers.get(size);
    let buf = list?.pop();
    if (!buf) {
      buf = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
    }
    this.liveBytes += size;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    return buf;
  }

  /** Returns a buffer to the pool. Safe while encoded work still uses it: later work is ordered after. */
  freeBuffer(buf: GPUBuffer): void {
    this.liveBytes -= buf.size;
    let list = this.freeBuffers.get(buf.size);
    if (!list) this.freeBuffers.set(buf.size, (list = []));
    list.push(buf);
  }

  tensor(shape: readonly number[]): GpuTensor {
    const size = shape.reduce((a, b) => a * b, 1);
    return { buffer: this.allocBuffer(size * 4), shape: [...shape], size };
  }

  upload(data: Float32Array, shape: readonly number[]): GpuTensor {
    const t = this.tensor(shape);
    if (data.length !== t.size) throw new Error(`upload: ${data.length} values for shape [${shape}]`);
    // queue.writeBuffer is ordered before commands not yet submitted, so submit them first:
    // a pooled buffer may still be read by encoded work.
    this.submit();
    if (data.length > 0) this.device.queue.writeBuffer(t.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return t;
  }

  free(t: GpuTensor): void {
    this.freeBuffer(t.buffer);
  }

  // ---- encoding ------------------------------------------------------------------------------

  private static readonly CACHE_LIMIT = 8192;

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextBufferId++));
    return id;
  }

  private uniformBuffer(u: Uniforms): { buffer: GPUBuffer; key: string } {
    const key = `${(u.u32 ?? []).join(',')}|${(u.f32 ?? []).join(',')}`;
    let buffer = this.uniformCache.get(key);
    if (!buffer) {
      if (this.uniformCache.size >= GpuContext.CACHE_LIMIT) {
        // Destroying after the pending work is submitted is safe: it lives until the GPU is done.
        this.submit();
        for (const b of this.uniformCache.values()) b.destroy();
        this.uniformCache.clear();
        this.bindGroupCache.clear();
      }
      buffer = this.createUniform(u);
      this.uniformCache.set(key, buffer);
    }
    return { buffer, key };
  }

  private createUniform(u: Uniforms): GPUBuffer {
    const n = (u.u32?.length ?? 0) + (u.f32?.length ?? 0);
    const bytes = Math.max(16, Math.ceil((n * 4) / 16) * 16);
    const buf = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true });
    const range = buf.getMappedRange();
    const asU = new Uint32Array(range);
    const asF = new Float32Array(range);
    let i = 0;
    for (const v of u.u32 ?? []) asU[i++] = v >>> 0;
    for (const v of u.f32 ?? []) asF[i++] = v;
    buf.unmap();
    return buf;
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    return this.pass;
  }

  /**
   * Encodes one dispatch. Bindings are the shader's @group(0) storage buffers in binding order
   * 0..n-1; uniforms (if any) go to binding n. A binding may be a sub-range of a buffer
   * ({ buffer, offset, size }): that is how tensors larger than maxStorageBufferBindingSize are
   * processed, one range per dispatch.
   */
  dispatch(
    pipeline: GPUComputePipeline,
    buffers: (GPUBuffer | GPUBufferBinding)[],
    uniforms: Uniforms | null,
    workgroups: [number, number?, number?],
  ): void {
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxWg = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new Error(`slimllm: dispatch [${x},${y},${z}] exceeds maxComputeWorkgroupsPerDimension ${maxWg}`);
    }
    const maxBinding = this.limits.maxStorageBufferBindingSize;
    const keyParts: (string | number)[] = [pipeline.label];
    const entries: GPUBindGroupEntry[] = buffers.map((b, binding) => {
      const resource: GPUBufferBinding = 'buffer' in b ? b : { buffer: b };
      const size = resource.size ?? resource.buffer.size - (resource.offset ?? 0);
      if (size > maxBinding) {
        throw new Error(`slimllm: binding ${binding} of '${pipeline.label}' spans ${size} bytes, above maxStorageBufferBindingSize ${maxBinding}; the kernel must split it`);
      }
      keyParts.push(this.bufferId(resource.buffer), resource.offset ?? 0, size);
      return { binding, resource };
    });
    if (uniforms) {
      const u = this.uniformBuffer(uniforms);
      entries.push({ binding: buffers.length, resource: { buffer: u.buffer } });
      keyParts.push(u.key);
    }
    const key = keyParts.join(':');
    let bindGroup = this.bindGroupCache.get(key);
    if (!bindGroup) {
      bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
      if (this.bindGroupCache.size >= GpuContext.CACHE_LIMIT) this.bindGroupCache.clear();
      this.bindGroupCache.set(key, bindGroup);
    }
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatchCount++;
    if (++this.dispatchesInEncoder >= MAX_DISPATCHES_PER_SUBMIT) this.submit();
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes === 0) return;
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Submits encoded work without waiting for it. */
  submit(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      this.dispatchesInEncoder = 0;
    }
    if (this.deviceError) {
      const msg = this.deviceError;
      this.deviceError = null;
      throw new Error(`WebGPU error: ${msg}`);
    }
  }

  /** Reads a tensor back (waits for all work so far). */
  async read(t: GpuTensor): Promise<Float32Array> {
    return this.readBuffer(t.buffer, t.size);
  }

  async readBuffer(buf: GPUBuffer, elements: number, offsetElements = 0): Promise<Float32Array> {
    const bytes = elements * 4;
    const out = new Float32Array(elements);
    if (elements === 0) return out;
    const size = GpuContext.bucket(bytes);
    const staging =
      this.freeStaging.get(size)?.pop() ??
      this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.copy(buf, offsetElements * 4, staging, 0, bytes);
    this.submit();
    await gentleWait(staging.mapAsync(GPUMapMode.READ, 0, bytes), this.pollIntervalMs);
    out.set(new Float32Array(staging.getMappedRange(0, bytes)));
    staging.unmap();
    let list = this.freeStaging.get(size);
    if (!list) this.freeStaging.set(size, (list = []));
    list.push(staging);
    if (this.deviceError) {
      const msg = this.deviceError;
      this.deviceError = null;
      throw new Error(`WebGPU error: ${msg}`);
    }
    return out;
  }

  /** Waits until the GPU has finished everything submitted. */
  async sync(): Promise<void> {
    this.submit();
    await gentleWait(this.device.queue.onSubmittedWorkDone(), this.pollIntervalMs);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.submit();
    for (const list of [...this.freeBuffers.values(), ...this.freeStaging.values()]) for (const b of list) b.destroy();
    for (const b of this.uniformCache.values()) b.destroy();
    this.uniformCache.clear();
    this.bindGroupCache.clear();
    this.freeBuffers.clear();
    this.freeStaging.clear();
    this.device.destroy();
  }
}
