// GPU time of enclosed work from timestamp queries (the optional `timestamp-query` feature). Every
// compute pass begun while a timing is open writes its end-of-pass timestamp, the first one also
// its beginning; the span is the last pass's end minus the first pass's beginning, which the
// implementation resolves to nanoseconds. The submission layer batches many dispatches into one
// pass, so a timing ends the open pass before and after the enclosed work: its passes hold that
// work and nothing else. Work split over several submits or passes is still one span.
import type { PassTimestamps, Submission } from './submission.js';

/** Queries per query set; a timing whose work spans more passes than this takes further sets. */
const QUERIES_PER_SET = 64;
/** resolveQuerySet's destination offset must be a multiple of this (WebGPU's rule). */
const RESOLVE_ALIGNMENT = 256;
/** One resolved timestamp: a u64. */
const TIMESTAMP_BYTES = 8;

interface QuerySlot {
  set: GPUQuerySet;
  index: number;
}

/** Hands out query slots to the passes of one timing, in order. */
class PassQueries implements PassTimestamps {
  readonly sets: GPUQuerySet[] = [];
  private usedInLastSet = QUERIES_PER_SET;
  /** Where the most recent pass writes its end: after the enclosed work, the span's end. */
  lastEnd: QuerySlot | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
  ) {}

  next(): GPUComputePassTimestampWrites {
    // The first pass writes its beginning too; both writes of one pass must share a query set.
    const first = this.sets.length === 0;
    const begin = first ? this.take() : null;
    const end = this.take();
    this.lastEnd = end;
    return {
      querySet: end.set,
      ...(begin ? { beginningOfPassWriteIndex: begin.index } : {}),
      endOfPassWriteIndex: end.index,
    };
  }

  private take(): QuerySlot {
    if (this.usedInLastSet === QUERIES_PER_SET) {
      const label = `${this.label} timestamps ${this.sets.length}`;
      this.sets.push(this.device.createQuerySet({ label, type: 'timestamp', count: QUERIES_PER_SET }));
      this.usedInLastSet = 0;
    }
    return { set: this.sets[this.sets.length - 1], index: this.usedInLastSet++ };
  }
}

/**
 * Runs `enqueue` (which must only encode work) with timestamp writes on its compute passes and
 * resolves to the GPU nanoseconds from the beginning of its first pass to the end of its last;
 * 0 when it encoded no compute pass. The device must have `timestamp-query` enabled.
 */
export async function timePasses(device: GPUDevice, submission: Submission, label: string, enqueue: () => void): Promise<number> {
  const queries = new PassQueries(device, label);
  submission.setPassTimestamps(queries);
  try {
    enqueue();
  } finally {
    // On a throw the query sets are left to the garbage collector: encoded passes still name them.
    submission.setPassTimestamps(null);
  }
  try {
    return queries.lastEnd ? await readSpan(device, submission, queries.sets[0], queries.lastEnd) : 0;
  } finally {
    for (const set of queries.sets) set.destroy();
  }
}

/** Resolves the first pass's beginning and the last pass's end after all work, and reads them back. */
async function readSpan(device: GPUDevice, submission: Submission, firstSet: GPUQuerySet, lastEnd: QuerySlot): Promise<number> {
  const bytes = RESOLVE_ALIGNMENT + TIMESTAMP_BYTES;
  const resolved = device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  try {
    submission.encode((encoder) => {
      encoder.resolveQuerySet(firstSet, 0, 1, resolved, 0);
      encoder.resolveQuerySet(lastEnd.set, lastEnd.index, 1, resolved, RESOLVE_ALIGNMENT);
    });
    const stamps = new BigUint64Array(await submission.readBytes(resolved, bytes));
    return Number(stamps[RESOLVE_ALIGNMENT / TIMESTAMP_BYTES] - stamps[0]);
  } finally {
    resolved.destroy();
  }
}
