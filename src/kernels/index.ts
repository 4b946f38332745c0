import type { Backend } from './backend.js';
import { CpuBackend } from './cpu/index.js';
import { GpuBackend } from './gpu/index.js';

export type { Backend, Tensor, CovStats, RopeOptions, AttentionOptions, RopeLayout } from './backend.js';
export { CpuBackend, GpuBackend };

export type DeviceKind = 'gpu' | 'cpu';

/** The backend for a device kind. 'gpu' throws a clear error when no WebGPU adapter exists. */
export async function createBackend(kind: DeviceKind): Promise<Backend> {
  return kind === 'gpu' ? GpuBackend.create() : new CpuBackend();
}
