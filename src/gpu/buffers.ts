// The buffer pool: storage buffers (and map-read staging buffers) are recycled by size bucket
// instead of created per tensor, and live/peak bytes are counted for memory reports.

/** Smallest buffer size step: the storage offset alignment devices commonly require. */
const GRANULE = 256;

export class BufferPool {
  private freeStorage = new Map<number, GPUBuffer[]>();
  private freeStaging = new Map<number, GPUBuffer[]>();
  /** Bytes in live (not pooled) storage buffers, and the high-water mark. */
  liveBytes = 0;
  peakBytes = 0;

  constructor(private readonly device: GPUDevice) {}

  /**
   * Round up to whole granules, then to a bucket in quarter steps of the size's power of two, so
   * that pooled buffers are reused across slightly different sizes while wasting at most a quarter.
   */
  static bucket(bytes: number): number {
    const b = Math.max(GRANULE, Math.ceil(bytes / GRANULE) * GRANULE);
    const p = 2 ** Math.floor(Math.log2(b));
    const step = Math.max(GRANULE, p / 4);
    return Math.ceil(b / step) * step;
  }

  /** A storage buffer of at least `bytes` (pooled; contents undefined). */
  alloc(bytes: number): GPUBuffer {
    const size = BufferPool.bucket(bytes);
    const max = this.device.limits.maxBufferSize;
    if (size > max) throw new Error(`slimllm: a ${size}-byte buffer exceeds the device's maxBufferSize ${max}`);
    let buf = this.freeStorage.get(size)?.pop();
    buf ??= this.device.createBuffer({
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.liveBytes += size;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    return buf;
  }

  /** Returns a buffer to the pool. Safe while encoded work still uses it: later work is ordered after. */
  free(buf: GPUBuffer): void {
    this.liveBytes -= buf.size;
    BufferPool.put(this.freeStorage, buf);
  }

  /** A map-read buffer of at least `bytes` for a readback. */
  staging(bytes: number): GPUBuffer {
    const size = BufferPool.bucket(bytes);
    return (
      this.freeStaging.get(size)?.pop() ??
      this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
    );
  }

  releaseStaging(buf: GPUBuffer): void {
    BufferPool.put(this.freeStaging, buf);
  }

  private static put(lists: Map<number, GPUBuffer[]>, buf: GPUBuffer): void {
    let list = lists.get(buf.size);
    if (!list) lists.set(buf.size, (list = []));
    list.push(buf);
  }

  /** Destroys the pooled buffers (live ones belong to their tensors). */
  destroy(): void {
    for (const list of [...this.freeStorage.values(), ...this.freeStaging.values()]) for (const b of list) b.destroy();
    this.freeStorage.clear();
    this.freeStaging.clear();
  }
}
