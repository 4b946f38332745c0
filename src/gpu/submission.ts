// Submission and readback: dispatches and copies are encoded into one command encoder and
// submitted in batches; only reads and syncs wait for the GPU. This matters on dawn.node, where
// every pending promise keeps the JS thread polling (src/gpu/poll.ts).
import type { BufferPool } from './buffers.js';
import { gentleWait } from './poll.js';
import { BIND_CACHE_LIMIT, DISPATCHES_PER_SUBMIT } from './tuning.js';
import { type PackedUniforms, UniformCache } from './uniforms.js';

export type Workgroups = [number, number?, number?];

/** Gives each compute pass begun while a GPU timing is open its timestamp writes (src/gpu/timestamps.ts). */
export interface PassTimestamps {
  next(): GPUComputePassTimestampWrites;
}

export class Submission {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatchesInEncoder = 0;
  private uniforms: UniformCache;
  /** Bind groups by content (pipeline, buffer ranges, uniforms): re-used like the uniform buffers. */
  private bindGroups = new Map<string, GPUBindGroup>();
  private bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private deviceError: string | null = null;
  /** Set only while a GPU timing is open; otherwise passes are begun without timestamp writes. */
  private passTimestamps: PassTimestamps | null = null;
  /** Dispatches encoded since creation (tests check how work was split). */
  dispatchCount = 0;
  /**
   * While waiting for the GPU, poll dawn.node this many ms apart after a short spin (src/gpu/poll.ts);
   * 0 = dawn.node's own busy polling. Env SLIMLLM_GPU_POLL_MS overrides the default.
   */
  pollIntervalMs = Number(process.env.SLIMLLM_GPU_POLL_MS ?? 1);

  constructor(
    private readonly device: GPUDevice,
    private readonly pool: BufferPool,
  ) {
    this.uniforms = new UniformCache(device);
    device.addEventListener('uncapturederror', (ev) => {
      this.deviceError ??= (ev as GPUUncapturedErrorEvent).error.message;
    });
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextBufferId++));
    return id;
  }

  private uniformBuffer(u: PackedUniforms): GPUBuffer {
    const cached = this.uniforms.buffer(u);
    if (cached) return cached;
    // Full: destroy after the pending work is submitted (it lives until the GPU is done).
    this.submit();
    this.uniforms.clear();
    this.bindGroups.clear();
    return this.uniforms.buffer(u) as GPUBuffer;
  }

  private bindGroup(pipeline: GPUComputePipeline, buffers: (GPUBuffer | GPUBufferBinding)[], uniforms: PackedUniforms | null): GPUBindGroup {
    const maxBinding = this.device.limits.maxStorageBufferBindingSize;
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
      entries.push({ binding: buffers.length, resource: { buffer: this.uniformBuffer(uniforms) } });
      keyParts.push(uniforms.key);
    }
    const key = keyParts.join(':');
    let group = this.bindGroups.get(key);
    if (!group) {
      group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
      if (this.bindGroups.size >= BIND_CACHE_LIMIT) this.bindGroups.clear();
      this.bindGroups.set(key, group);
    }
    return group;
  }

  private computePass(): GPUComputePassEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    this.pass ??= this.encoder.beginComputePass(this.passTimestamps ? { timestampWrites: this.passTimestamps.next() } : undefined);
    return this.pass;
  }

  /**
   * Ends the open compute pass, so that the passes begun from now on hold only later work, and
   * routes their timestamp writes to `timestamps` (null: none).
   */
  setPassTimestamps(timestamps: PassTimestamps | null): void {
    if (timestamps && this.passTimestamps) throw new Error('slimllm: GPU timings do not nest (timeGpu inside timeGpu)');
    this.endPass();
    this.passTimestamps = timestamps;
  }

  /** Encodes commands of the caller's after all work encoded so far (outside any compute pass). */
  encode(record: (encoder: GPUCommandEncoder) => void): void {
    this.encoder ??= this.device.createCommandEncoder();
    this.endPass();
    record(this.encoder);
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /**
   * Encodes one dispatch. Bindings are the shader's @group(0) storage buffers in binding order
   * 0..n-1; uniforms (if any) go to binding n. A binding may be a sub-range of a buffer
   * ({ buffer, offset, size }): that is how tensors larger than maxStorageBufferBindingSize are
   * processed, one range per dispatch.
   */
  dispatch(pipeline: GPUComputePipeline, buffers: (GPUBuffer | GPUBufferBinding)[], uniforms: PackedUniforms | null, workgroups: Workgroups): void {
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxWg = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new Error(`slimllm: dispatch [${x},${y},${z}] exceeds maxComputeWorkgroupsPerDimension ${maxWg}`);
    }
    const group = this.bindGroup(pipeline, buffers, uniforms);
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatchCount++;
    if (++this.dispatchesInEncoder >= DISPATCHES_PER_SUBMIT) this.submit();
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes === 0) return;
    this.encoder ??= this.device.createCommandEncoder();
    this.endPass();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Writes host data into a buffer, after the work encoded so far (which may still read it). */
  write(buf: GPUBuffer, data: Float32Array): void {
    // queue.writeBuffer is ordered before commands not yet submitted, so submit them first.
    this.submit();
    if (data.length > 0) this.device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
  }

  private throwDeviceError(): void {
    if (!this.deviceError) return;
    const msg = this.deviceError;
    this.deviceError = null;
    throw new Error(`WebGPU error: ${msg}`);
  }

  /** Submits encoded work without waiting for it. */
  submit(): void {
    this.endPass();
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      this.dispatchesInEncoder = 0;
    }
    this.throwDeviceError();
  }

  /** Reads `elements` f32 from a buffer (waits for all work so far). */
  async read(buf: GPUBuffer, elements: number, offsetElements = 0): Promise<Float32Array> {
    if (elements === 0) return new Float32Array(0);
    return new Float32Array(await this.readBytes(buf, elements * 4, offsetElements * 4));
  }

  /** Reads `bytes` bytes (a multiple of 4) from a buffer into a fresh ArrayBuffer (waits for all work so far). */
  async readBytes(buf: GPUBuffer, bytes: number, offsetBytes = 0): Promise<ArrayBuffer> {
    const out = new ArrayBuffer(bytes);
    if (bytes === 0) return out;
    const staging = this.pool.staging(bytes);
    this.copy(buf, offsetBytes, staging, 0, bytes);
    this.submit();
    await gentleWait(staging.mapAsync(GPUMapMode.READ, 0, bytes), this.pollIntervalMs);
    new Uint8Array(out).set(new Uint8Array(staging.getMappedRange(0, bytes)));
    staging.unmap();
    this.pool.releaseStaging(staging);
    this.throwDeviceError();
    return out;
  }

  /** Waits until the GPU has finished everything submitted. */
  async sync(): Promise<void> {
    this.submit();
    await gentleWait(this.device.queue.onSubmittedWorkDone(), this.pollIntervalMs);
  }

  /** Submits what is pending and drops the caches. */
  dispose(): void {
    this.submit();
    this.uniforms.clear();
    this.bindGroups.clear();
  }
}
