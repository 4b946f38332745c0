// safetensors reader and writer (https://github.com/huggingface/safetensors, format section):
//   u64 LE header length N | N bytes of JSON header | data section
// The header maps tensor name → {dtype, shape, data_offsets: [begin, end]} (offsets relative to
// the data section) plus an optional "__metadata__" string map.
//
// The reader validates the whole header up front — every error names the file and the tensor —
// and then reads one tensor at a time with positioned reads, so a multi-GB checkpoint is never
// held in memory at once. f16/bf16 are widened to f32 on read (fp32 everywhere downstream).
// Byte order: the format is little-endian, as are the machines Node runs on (x64, arm64), so
// f32 bytes are read straight into a Float32Array.
import * as fs from 'node:fs';
import { writeFileAtomically, writeFully } from './atomic-file.js';
import { firstNonFiniteStored } from './finite.js';
import { narrowBf16, narrowF16 } from './half.js';
import { type StoredTensor, storedLength, widenStored } from './weights.js';
import { openForReading, readFully } from './open-file.js';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * The first key that appears twice in one JSON object of `text` (valid JSON), or null.
 * JSON.parse keeps the last silently; the safetensors format forbids duplicates.
 */
export function duplicateJsonKey(text: string): string | null {
  const stack: (Set<string> | null)[] = []; // one entry per open object (Set) or array (null)
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.has(key)) return key;
        top.add(key);
        expectKey = false;
      }
      i = j;
    } else if (ch === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (ch === '[') {
      stack.push(null);
    } else if (ch === '}' || ch === ']') {
      stack.pop();
    } else if (ch === ',') {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
  return null;
}

/** Headers beyond this are not real checkpoints (the reference implementation's limit is 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte offsets relative to the start of the data section. */
  begin: number;
  end: number;
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Throws naming `what` (e.g. "model.safetensors: tensor 'x'") when any element is NaN or ±Inf. */
export function assertFinite(arr: ArrayLike<number>, what: string): void {
  if (arr instanceof Float32Array) return assertFiniteStored(arr, what);
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i];
    if (!Number.isFinite(v)) throw new Error(`${what}: element ${i} is ${v} (weights must be finite)`);
  }
}

/** assertFinite for a stored tensor: f16/bf16 bits are checked without widening (all-ones exponent: ±Inf or NaN). */
export function assertFiniteStored(t: StoredTensor, what: string): void {
  const bad = firstNonFiniteStored(t);
  if (bad) throw new Error(`${what}: element ${bad.index} is ${bad.value} (weights must be finite)`);
}

/** `get`, checked for non-finite values when a writer calls it (the message names `origin` and `name`). */
export function finiteForSave<A extends StoredTensor>(origin: string, name: string, get: () => A): () => A {
  return () => {
    const a = get();
    assertFiniteStored(a, `${origin}: tensor '${name}' to save`);
    return a;
  };
}

/** An open safetensors file: header parsed and validated, tensors read on demand. */
export class SafetensorsFile {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Record<string, string> | null;
  private fd: number | null;
  private readonly dataStart: number;

  private constructor(
    readonly file: string,
    fd: number,
    dataStart: number,
    tensors: Map<string, TensorInfo>,
    metadata: Record<string, string> | null,
  ) {
    this.fd = fd;
    this.dataStart = dataStart;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  static open(file: string): SafetensorsFile {
    const fd = openForReading(file, 'safetensors');
    try {
      const size = fs.fstatSync(fd).size;
      if (size < 8) throw new Error(`${file}: ${size} bytes, too short for a safetensors file (the header length alone is 8)`);
      const lenBuf = Buffer.alloc(8);
      readFully(fd, lenBuf, 0, file);
      const headerLen = lenBuf.readBigUInt64LE(0);
      if (headerLen > BigInt(MAX_HEADER_BYTES)) {
        throw new Error(`${file}: header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
      }
      const n = Number(headerLen);
      if (8 + n > size) {
        throw new Error(`${file}: header length ${n} runs past the end of the ${size}-byte file (truncated?)`);
      }
      const headerBuf = Buffer.alloc(n);
      readFully(fd, headerBuf, 8, file);
      let text: string;
      try {
        text = utf8Strict.decode(headerBuf);
      } catch {
        throw new Error(`${file}: header is not valid UTF-8`);
      }
      let header: unknown;
      try {
        header = JSON.parse(text);
      } catch (e) {
        throw new Error(`${file}: header is not valid JSON (${(e as Error).message})`);
      }
      const dup = duplicateJsonKey(text);
      if (dup !== null) throw new Error(`${file}: header: key ${JSON.stringify(dup)} appears twice in one object`);
      if (typeof header !== 'object' || header === null || Array.isArray(header)) {
        throw new Error(`${file}: header JSON is not an object`);
      }
      const dataLen = size - 8 - n;
      const { tensors, metadata } = parseHeader(file, header as Record<string, unknown>, dataLen);
      return new SafetensorsFile(file, fd, 8 + n, tensors, metadata);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`${this.file}: no tensor '${name}'`);
    return t;
  }

  /** Reads one tensor, widened to f32. */
  read(name: string): Float32Array {
    const t = this.readStored(name);
    return widenStored(t);
  }

  /** Reads one tensor as stored: f32 values, or f16/bf16 bits left for the caller (or the device) to widen. */
  readStored(name: string): StoredTensor {
    const t = this.info(name);
    if (this.fd === null) throw new Error(`${this.file}: read of '${name}' after close`);
    const count = (t.end - t.begin) / DTYPE_BYTES[t.dtype];
    const pos = this.dataStart + t.begin;
    if (t.dtype === 'F32') {
      const out = new Float32Array(count);
      readFully(this.fd, new Uint8Array(out.buffer), pos, `${this.file}: tensor '${name}'`);
      return out;
    }
    const bits = new Uint16Array(count);
    readFully(this.fd, new Uint8Array(bits.buffer), pos, `${this.file}: tensor '${name}'`);
    return { dtype: t.dtype, bits };
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

function parseHeader(
  file: string,
  header: Record<string, unknown>,
  dataLen: number,
): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> | null } {
  let metadata: Record<string, string> | null = null;
  const tensors = new Map<string, TensorInfo>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        throw new Error(`${file}: __metadata__ is not an object`);
      }
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw new Error(`${file}: __metadata__ '${k}' is ${JSON.stringify(v)}, not a string`);
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const where = `${file}: tensor '${name}'`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offs } = raw as Record<string, unknown>;
    if (dtype === undefined) throw new Error(`${where}: missing dtype`);
    if (shape === undefined) throw new Error(`${where}: missing shape`);
    if (offs === undefined) throw new Error(`${where}: missing data_offsets`);
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw new Error(`${where}: dtype ${JSON.stringify(dtype)} is not supported (F32, F16, BF16)`);
    }
    if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      throw new Error(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new Error(`${where}: data_offsets ${JSON.stringify(offs)} is not [begin, end] with non-negative integers`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end) throw new Error(`${where}: data_offsets [${begin}, ${end}] have begin after end`);
    if (end > dataLen) {
      throw new Error(`${where}: data_offsets [${begin}, ${end}] run past the data section's ${dataLen} bytes (truncated?)`);
    }
    const d = dtype as SafetensorsDtype;
    const need = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[d];
    if (end - begin !== need) {
      throw new Error(
        `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, shape ${fmtShape(shape as number[])} of ${d} needs ${need}`,
      );
    }
    tensors.set(name, { name, dtype: d, shape: shape as number[], begin, end });
  }
  // The format's rule: the tensors cover the data section exactly, in order of their offsets, with
  // no holes and nothing after the last one. A byte inserted, removed or appended, or a header
  // length that is off, shifts every later tensor: refused here, never read shifted.
  const sorted = [...tensors.values()].filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  let covered = 0;
  let prev: TensorInfo | null = null;
  for (const t of sorted) {
    if (prev && t.begin < covered) {
      throw new Error(`${file}: tensor '${t.name}': data_offsets [${t.begin}, ${t.end}] overlap tensor '${prev.name}' [${prev.begin}, ${prev.end}]`);
    }
    if (t.begin > covered) {
      throw new Error(`${file}: tensor '${t.name}': data_offsets [${t.begin}, ${t.end}] leave bytes [${covered}, ${t.begin}) of the data section to no tensor (the tensors must cover it exactly)`);
    }
    covered = t.end;
    prev = t;
  }
  if (covered !== dataLen) {
    throw new Error(`${file}: ${dataLen - covered} bytes after the last tensor's data (the tensors must cover the data section exactly: trailing bytes, or a header length that is off?)`);
  }
  return { tensors, metadata };
}

// ---------------------------------------------------------------------------------------------
// Writer

export interface TensorToWrite {
  name: string;
  shape: number[];
  /**
   * The values, or a function producing them when their turn comes (lets callers stream). f16/bf16
   * bits stored in the file's dtype are written as they are (no f32 round trip).
   */
  data: StoredTensor | (() => StoredTensor);
  /** This tensor's dtype in the file, where it is not the file's (`WriteSafetensorsOptions.dtype`). */
  dtype?: SafetensorsDtype;
}

export interface WriteSafetensorsOptions {
  /** Storage type of every tensor (default F32); values are rounded to nearest even. */
  dtype?: SafetensorsDtype;
  metadata?: Record<string, string>;
}

/** Bytes the data of `shape` takes in `dtype`. */
export function tensorBytes(shape: readonly number[], dtype: SafetensorsDtype): number {
  return shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
}

/**
 * Writes a safetensors file. Data go to a temporary file in the same folder, renamed over `file`
 * at the end, so a crash never leaves a half-written checkpoint under the real name.
 */
export function writeSafetensors(file: string, tensors: TensorToWrite[], opts: WriteSafetensorsOptions = {}): void {
  const dtype = opts.dtype ?? 'F32';
  const head = headerBytes(file, tensors, dtype, opts.metadata);
  writeFileAtomically(file, (fd) => {
    writeFully(fd, head);
    for (const t of tensors) {
      const data = typeof t.data === 'function' ? t.data() : t.data;
      const want = t.shape.reduce((a, b) => a * b, 1);
      if (storedLength(data) !== want) {
        throw new Error(`${file}: tensor '${t.name}': ${storedLength(data)} values, shape ${fmtShape(t.shape)} needs ${want}`);
      }
      writeFully(fd, encodeStored(data, t.dtype ?? dtype));
    }
  });
}

/**
 * Writes tensors, each in the dtype it is stored in (their bytes as they are), as a safetensors file
 * on libuv's threads: the caller's thread goes on while the disk works. Not atomic (a failed write
 * can leave part of the file): for files private to a run, such as the pruned-layer store.
 */
export async function writeStoredTensors(file: string, tensors: { name: string; data: StoredTensor }[]): Promise<void> {
  const typed = tensors.map((t) => ({ name: t.name, shape: [storedLength(t.data)], data: t.data, dtype: storedDtype(t.data) }));
  const chunks = [headerBytes(file, typed, 'F32'), ...typed.map((t) => encodeStored(t.data, t.dtype))];
  await fs.promises.writeFile(file, chunks);
}

function storedDtype(t: StoredTensor): SafetensorsDtype {
  return t instanceof Float32Array ? 'F32' : t.dtype;
}

/** The header's length (8 bytes) and JSON, padded so the data section starts 8-byte aligned (as the reference writer does). */
function headerBytes(file: string, tensors: readonly Omit<TensorToWrite, 'data'>[], dtype: SafetensorsDtype, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || t.name in header) throw new Error(`${file}: duplicate or reserved tensor name '${t.name}'`);
    const bytes = tensorBytes(t.shape, t.dtype ?? dtype);
    header[t.name] = { dtype: t.dtype ?? dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonBytes % 8)) % 8);
  const body = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + body.length);
  out.writeBigUInt64LE(BigInt(body.length));
  body.copy(out, 8);
  return out;
}

/** A stored tensor's bytes in `dtype`: its own bits when it is already in that dtype, else encodeFloats of its values. */
export function encodeStored(data: StoredTensor, dtype: SafetensorsDtype): Uint8Array {
  if (data instanceof Float32Array) return encodeFloats(data, dtype);
  if (data.dtype === dtype) return new Uint8Array(data.bits.buffer, data.bits.byteOffset, data.bits.byteLength);
  return encodeFloats(widenStored(data), dtype);
}

/** f32 values stored as F32 (the same bytes), F16 or BF16 (rounded to nearest even). */
export function encodeFloats(data: Float32Array, dtype: SafetensorsDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const bits = dtype === 'BF16' ? narrowBf16(data) : narrowF16(data);
  return new Uint8Array(bits.buffer);
}
