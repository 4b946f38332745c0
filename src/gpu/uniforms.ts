// Uniform blocks: values packed in the order and types of a WGSL uniform struct of 4-byte scalars,
// and a cache of uniform buffers by content, so a repeated dispatch (matrix-function steps,
// per-layer kernels) re-uses its buffer instead of creating one each time.
import { BIND_CACHE_LIMIT } from './tuning.js';

export type UniformType = 'u32' | 'i32' | 'f32';

/** One uniform block's content: typed values in struct order; `key` identifies it by content. */
export interface PackedUniforms {
  readonly key: string;
  readonly types: readonly UniformType[];
  readonly values: readonly number[];
}

export function packUniforms(types: readonly UniformType[], values: readonly number[]): PackedUniforms {
  const key = values.map((v, i) => `${types[i][0]}${v}`).join(',');
  return { key, types, values };
}

function createUniformBuffer(device: GPUDevice, u: PackedUniforms): GPUBuffer {
  // A struct of scalars is padded to whole 16-byte rows in the uniform address space.
  const bytes = Math.max(16, Math.ceil((u.values.length * 4) / 16) * 16);
  const buf = device.createBuffer({ size: bytes, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true });
  const range = buf.getMappedRange();
  const asU = new Uint32Array(range);
  const asI = new Int32Array(range);
  const asF = new Float32Array(range);
  u.values.forEach((v, i) => {
    const t = u.types[i];
    if (t === 'u32') asU[i] = v >>> 0;
    else if (t === 'i32') asI[i] = v | 0;
    else asF[i] = v;
  });
  buf.unmap();
  return buf;
}

export class UniformCache {
  private buffers = new Map<string, GPUBuffer>();

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.buffers.size;
  }

  /** The buffer holding `u`; null when the cache is full (the caller empties it after a submit). */
  buffer(u: PackedUniforms): GPUBuffer | null {
    let buffer = this.buffers.get(u.key);
    if (!buffer) {
      if (this.buffers.size >= BIND_CACHE_LIMIT) return null;
      buffer = createUniformBuffer(this.device, u);
      this.buffers.set(u.key, buffer);
    }
    return buffer;
  }

  /** Destroys every cached buffer; safe once the work using them is submitted (it lives until done). */
  clear(): void {
    for (const b of this.buffers.values()) b.destroy();
    this.buffers.clear();
  }
}
