// Gentle waiting for dawn.node promises.
//
// dawn.node settles a GPU promise (mapAsync, onSubmittedWorkDone) by re-arming
// `setImmediate(ProcessEvents)` until it is done, so the JS thread spins at 100 % of a core for as
// long as the GPU works. On a real GPU that is one idle host core; on a 2-core machine running
// Mesa's lavapipe it is half of the "GPU" (bench:kernels measured 13–14 GFLOP/s at 1024³ with the
// spin, 20.7 with polls 1 ms apart). dawn.node looks `setImmediate` up on every re-arm, so while
// at least one of our waits is pending, polls after the first `SPIN_MS` are spaced `intervalMs`
// apart with setTimeout. Short waits keep their latency; a long wait costs ≤ intervalMs extra.
// Other code's setImmediate calls during such a wait are deferred the same way (≤ intervalMs).

/** Polls at full speed for this long before spacing them out (keeps short reads fast). */
const SPIN_MS = 0.5;

let pending = 0;
let realSetImmediate: typeof setImmediate | null = null;

function install(intervalMs: number): void {
  const real = globalThis.setImmediate;
  realSetImmediate = real;
  const since = performance.now();
  const gentle = ((fn: (...args: unknown[]) => void, ...args: unknown[]) =>
    performance.now() - since < SPIN_MS ? real(fn, ...args) : setTimeout(fn, intervalMs, ...args)) as unknown as typeof setImmediate;
  globalThis.setImmediate = gentle;
}

function uninstall(): void {
  if (realSetImmediate) globalThis.setImmediate = realSetImmediate;
  realSetImmediate = null;
}

/**
 * Awaits a dawn.node promise with spaced-out polling (see above). `intervalMs` ≤ 0 leaves
 * dawn.node's own busy polling in place. Nested and concurrent waits share one installation.
 */
export async function gentleWait<T>(promise: Promise<T>, intervalMs: number): Promise<T> {
  if (!(intervalMs > 0)) return promise;
  if (pending++ === 0) install(intervalMs);
  try {
    return await promise;
  } finally {
    if (--pending === 0) uninstall();
  }
}
