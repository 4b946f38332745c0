// Reads a model's layers ahead of the one being worked on, in a thread of its own where the source
// is a file: the read, the finite check and the f16 → f32 widening of layer l + 1 then run while
// layer l is pruned (on a fast GPU these host steps, not the kernels, set a layer's time). A source
// without a file (weights in memory) is read in this thread when asked: the same values either way.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../paths.js';
import { type LayerWeights, type ModelSource, type StoredLayer, storedLayerOf, widenLayer } from './weights.js';

/** A layer as read: as stored, and (when asked for) widened to f32. */
export interface LayerRead {
  stored: StoredLayer;
  widened: LayerWeights | null;
}

export interface LayerReadRequest {
  id: number;
  layer: number;
  widen: boolean;
}

export type LayerReadReply = ({ id: number } & LayerRead) | { id: number; error: string };

export class LayerReader {
  private readonly worker: Worker | null;
  /** Reads asked for and not yet taken, by readKey. */
  private readonly ahead = new Map<number, Promise<LayerRead>>();
  /** Replies the worker owes, by request id. */
  private readonly owed = new Map<number, { resolve: (r: LayerRead) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failure: Error | null = null;

  constructor(private readonly src: ModelSource) {
    this.worker = src.reopen ? this.start(src) : null;
  }

  /** True when reads run in a worker thread (the source is a file). */
  get threaded(): boolean {
    return this.worker !== null;
  }

  /**
   * Starts reading layer `l` (nothing past the last layer, nothing twice); `widen`: the read also
   * returns the f32 layer (what the pruning methods read on the host).
   */
  request(l: number, widen: boolean): void {
    const key = readKey(l, widen);
    if (l < 0 || l >= this.src.config.nLayers || this.ahead.has(key)) return;
    const p = this.worker ? this.fromWorker(l, widen) : this.here(l, widen);
    p.catch(() => {}); // a read nobody takes (the run stopped first) must not end the process
    this.ahead.set(key, p);
  }

  /** Layer `l` (read now if it was not asked for before). */
  take(l: number, widen: boolean): Promise<LayerRead> {
    if (!(Number.isInteger(l) && l >= 0 && l < this.src.config.nLayers)) throw new Error(`${this.src.origin}: layer ${l} out of range (0..${this.src.config.nLayers - 1})`);
    this.request(l, widen);
    const key = readKey(l, widen);
    const p = this.ahead.get(key)!;
    this.ahead.delete(key);
    return p;
  }

  /** Stops the thread; reads still under way are dropped. Idempotent. */
  close(): void {
    this.fail(new Error('the layer reader was closed'));
    void this.worker?.terminate();
    this.ahead.clear();
  }

  private here(l: number, widen: boolean): Promise<LayerRead> {
    try {
      return Promise.resolve(readLayer(this.src, l, widen));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  private fromWorker(l: number, widen: boolean): Promise<LayerRead> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<LayerRead>((resolve, reject) => {
      if (this.owed.size === 0) this.worker!.ref(); // a read is owed: the process waits for it
      this.owed.set(id, { resolve, reject });
      this.worker!.postMessage({ id, layer: l, widen } satisfies LayerReadRequest);
    });
  }

  private start(src: ModelSource): Worker {
    // The parent's node flags are not the thread's: some (--input-type with -e) stop a worker from starting.
    const w = new Worker(workerScript(), { workerData: src.reopen, execArgv: [] });
    w.unref(); // an idle reader left open must not keep the process alive
    w.on('message', (r: LayerReadReply) => {
      const o = this.owed.get(r.id);
      if (!o) return;
      this.owed.delete(r.id);
      if (this.owed.size === 0) w.unref();
      if ('error' in r) o.reject(new Error(r.error));
      else o.resolve({ stored: r.stored, widened: r.widened });
    });
    w.on('error', (e) => this.fail(new Error(`${src.origin}: reading layers in a worker thread failed: ${e.message}`)));
    w.on('exit', (code) => this.fail(new Error(`${src.origin}: the layer-reading thread stopped (exit ${code})`)));
    return w;
  }

  /** Rejects every owed read, and every later one, with `e` (the first failure wins). */
  private fail(e: Error): void {
    this.failure ??= e;
    for (const o of this.owed.values()) o.reject(this.failure);
    this.owed.clear();
  }
}

/** Layer `l` of `src` as stored, and widened when asked for: what the reader hands over, from either thread. */
export function readLayer(src: ModelSource, l: number, widen: boolean): LayerRead {
  const stored = storedLayerOf(src, l);
  return { stored, widened: widen ? widenLayer(stored) : null };
}

function readKey(l: number, widen: boolean): number {
  return 2 * l + (widen ? 1 : 0);
}

/**
 * The worker's compiled module. From the built package it sits beside this one; run from the
 * TypeScript sources (the tests), Node cannot start a .ts worker, so the build's copy is used.
 */
function workerScript(): URL {
  const here = new URL('./layer-read-worker.js', import.meta.url);
  if (!import.meta.url.endsWith('.ts')) return here;
  const built = join(packageRoot(), 'dist', 'src', 'model', 'layer-read-worker.js');
  if (!existsSync(built)) throw new Error(`slimllm: ${built} is missing: run \`npm run build\` (the layer reader's thread runs the built code)`);
  return pathToFileURL(built);
}
