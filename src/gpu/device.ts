// Acquires the one WebGPU device slimllm uses, through Dawn's dawn.node (`webgpu` on npm).
// Only the limits the library needs are requested, each up to what the adapter offers.
import { create, globals } from 'webgpu';

export class NoGpuAdapterError extends Error {
  constructor(detail: string) {
    super(
      `No WebGPU adapter found (${detail}). slimllm needs a Vulkan driver: on a machine without a GPU ` +
        `install Mesa's software Vulkan (lavapipe) 23.x or newer, e.g. Debian bookworm-backports ` +
        `'mesa-vulkan-drivers libvulkan1' — scripts/install-software-gpu.sh does this. ` +
        `Or run on the CPU with --device cpu.`,
    );
    this.name = 'NoGpuAdapterError';
  }
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapterName: string;
}

let globalsInstalled = false;
// dawn.node's GPU instance must outlive every device made from it: once garbage-collected, the
// next mapAsync/onSubmittedWorkDone crashes the process (pthread mutex assertions). Keep it here.
let gpuInstance: GPU | null = null;

export async function acquireDevice(): Promise<AcquiredDevice> {
  if (!globalsInstalled) {
    // GPUBufferUsage & co. are globals in browsers; dawn.node exports them separately.
    for (const [k, v] of Object.entries(globals as Record<string, unknown>)) {
      if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    }
    globalsInstalled = true;
  }
  // Mesa's lavapipe wants a runtime dir; headless CI machines often have none.
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp';
  let adapter: GPUAdapter | null;
  try {
    const gpu = (gpuInstance ??= create([]));
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    throw new NoGpuAdapterError(`requestAdapter failed: ${(e as Error).message}`);
  }
  if (!adapter) throw new NoGpuAdapterError('requestAdapter returned null');

  const want: (keyof GPUSupportedLimits)[] = [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupsPerDimension',
    'maxStorageBuffersPerShaderStage',
  ];
  const requiredLimits: Record<string, number> = {};
  for (const k of want) requiredLimits[k] = adapter.limits[k] as number;
  // No optional features: every shader is plain f32 WGSL and timing is wall-clock.
  const device = await adapter.requestDevice({ requiredLimits });
  const info = adapter.info;
  const adapterName = [info?.vendor, info?.architecture, info?.device, info?.description]
    .filter((s) => s && String(s).length > 0)
    .join(' ') || 'unknown adapter';
  return { device, adapterName };
}
