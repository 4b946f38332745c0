// Acquires the one WebGPU device slimllm uses, through Dawn's dawn.node (`webgpu` on npm).
// Only the limits the library needs are requested, each up to what the adapter offers; the one
// optional feature is `timestamp-query` (GPU timing, src/gpu/timestamps.ts), requested where offered.
import { create, globals } from 'webgpu';

/** The limits that bound the kernels' tiling and splitting (requested at the adapter's values; bench:kernels reports them). */
export const KERNEL_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
] as const;

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
  /** What the adapter says about itself (vendor, architecture, device, description, …). */
  adapterInfo: Readonly<Record<string, string | number | boolean>>;
  /** Features the adapter offers (the device enables only those requested). */
  adapterFeatures: ReadonlySet<string>;
}

export interface DeviceOptions {
  /** Request `timestamp-query` when the adapter offers it (default true); false: never. */
  timestamps?: boolean;
  /**
   * Have Dawn print every shader it compiles, WGSL and SPIR-V disassembly, to stdout
   * (bench/shader-registers.ts reads it). Only for the first device of a process: Dawn takes it
   * when its instance is created.
   */
  dumpShaders?: boolean;
}

let globalsInstalled = false;
// dawn.node's GPU instance must outlive every device made from it: once garbage-collected, the
// next mapAsync/onSubmittedWorkDone crashes the process (pthread mutex assertions). Keep it here.
let gpuInstance: GPU | null = null;

// Dawn rounds resolved timestamps down to a coarse grid by default (a browser's defence against
// timing attacks); a benchmark wants them as the driver reports them.
const DAWN_OPTIONS = ['disable-dawn-features=timestamp_quantization'];
// Shader dumps come as log lines; unrenamed symbols keep the WGSL names in the SPIR-V.
const DAWN_DUMP_OPTIONS = ['enable-dawn-features=dump_shaders,disable_symbol_renaming', 'dlogs=true'];
let instanceDumps: boolean | null = null;

function dawnInstance(dumpShaders: boolean): GPU {
  if (instanceDumps !== null && dumpShaders && !instanceDumps) {
    throw new Error('slimllm: dumpShaders must be asked for by the first GPU device of the process');
  }
  instanceDumps ??= dumpShaders;
  return (gpuInstance ??= create(dumpShaders ? [...DAWN_OPTIONS, ...DAWN_DUMP_OPTIONS] : DAWN_OPTIONS));
}

export async function acquireDevice(options: DeviceOptions = {}): Promise<AcquiredDevice> {
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
    const gpu = dawnInstance(options.dumpShaders === true);
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    throw new NoGpuAdapterError(`requestAdapter failed: ${(e as Error).message}`);
  }
  if (!adapter) throw new NoGpuAdapterError('requestAdapter returned null');

  const want: (keyof GPUSupportedLimits)[] = [...KERNEL_LIMITS, 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage'];
  const requiredLimits: Record<string, number> = {};
  for (const k of want) requiredLimits[k] = adapter.limits[k] as number;
  // Shaders are plain f32 WGSL; timestamps are optional (GpuContext.timeGpu returns null without).
  const timestamps = options.timestamps !== false && adapter.features.has('timestamp-query');
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures: timestamps ? ['timestamp-query'] : [] });
  const adapterInfo = infoRecord(adapter.info);
  const adapterName = [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.device, adapterInfo.description]
    .filter((s) => s !== undefined && String(s).length > 0)
    .join(' ') || 'unknown adapter';
  return { device, adapterName, adapterInfo, adapterFeatures: new Set(adapter.features) };
}

/** GPUAdapterInfo's fields as a plain record: they are prototype getters, invisible to JSON.stringify. */
function infoRecord(info: GPUAdapterInfo | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  if (!info) return out;
  for (let proto = Object.getPrototypeOf(info); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const value = (info as unknown as Record<string, unknown>)[key];
      if (key in out || !['string', 'number', 'boolean'].includes(typeof value)) continue;
      out[key] = value as string | number | boolean;
    }
  }
  return out;
}
