// The thread behind layer-reader.ts: opens the checkpoint again and reads the layers it is asked
// for (checked finite, and widened to f32 on request), handing their buffers over without a copy.
import { parentPort, workerData } from 'node:worker_threads';
import { openSourceFile } from './load.js';
import { type LayerReadReply, type LayerReadRequest, readLayer } from './layer-reader.js';
import type { LayerWeights, SourceFile, StoredTensor } from './weights.js';

const port = parentPort;
if (!port) throw new Error('layer-read-worker: not started as a worker thread');
const src = openSourceFile(workerData as SourceFile);

port.on('message', (m: LayerReadRequest) => {
  let reply: LayerReadReply;
  try {
    reply = { id: m.id, ...readLayer(src, m.layer, m.widen) };
  } catch (e) {
    port.postMessage({ id: m.id, error: (e as Error).message } satisfies LayerReadReply);
    return;
  }
  port.postMessage(reply, buffersOf(reply));
});

/** Every distinct buffer under the reply's tensors (a widened f32 tensor may be its stored one). */
function buffersOf(r: LayerReadReply): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const add = (t: StoredTensor | null) => {
    if (t) out.add((t instanceof Float32Array ? t : t.bits).buffer as ArrayBuffer);
  };
  if ('stored' in r) {
    for (const t of Object.values(r.stored)) add(t);
    for (const t of Object.values(r.widened ?? ({} as LayerWeights))) add(t);
  }
  return [...out];
}
