// GGUF container reader and writer (ggml's docs/gguf.md, versions 2 and 3):
//   "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//   kv_count × (string key, u32 value type, value)
//   tensor_count × (string name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset)
//   padding to `general.alignment` (default 32) | data section (tensor offsets are relative to it)
// Strings are u64 length + UTF-8 bytes; arrays are u32 element type + u64 count + elements.
// dims[0] is the innermost (contiguous) dimension: an [out × in] row-major matrix has dims [in, out].
//
// The reader validates the whole header before anything is used: every count and length is
// bounded by the bytes left in the file (a corrupt count fails at once instead of allocating or
// looping), tensor types and shapes are checked, offsets must be aligned, inside the data section
// and not overlapping. Every error names the file and the key or tensor. Tensor data are read on
// demand with positioned reads and dequantized to f32 (F32, F16, BF16, Q8_0).
import * as fs from 'node:fs';
import { writeFileAtomically, writeFully } from './atomic-file.js';
import { f16BitsToF32, f32ToF16Bits } from './half.js';
import { encodeStored } from './safetensors.js';
import { type StoredTensor, storedLength, widenStored } from './weights.js';
import { openForReading, readFully } from './open-file.js';

export const GGUF_MAGIC = 'GGUF';
export const GGUF_DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4;

/** Metadata value types. */
export enum GgufType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

const SCALAR_BYTES: Partial<Record<GgufType, number>> = {
  [GgufType.UINT8]: 1,
  [GgufType.INT8]: 1,
  [GgufType.UINT16]: 2,
  [GgufType.INT16]: 2,
  [GgufType.UINT32]: 4,
  [GgufType.INT32]: 4,
  [GgufType.FLOAT32]: 4,
  [GgufType.BOOL]: 1,
  [GgufType.UINT64]: 8,
  [GgufType.INT64]: 8,
  [GgufType.FLOAT64]: 8,
};

/** ggml tensor types slimllm reads and writes; the rest are named in errors only. */
export type GgmlTypeName = 'F32' | 'F16' | 'BF16' | 'Q8_0';
export const GGML_TYPE_ID: Record<GgmlTypeName, number> = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 };
const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K',
  11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS',
  19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32',
  27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
};
/** Elements per block and bytes per block of each supported type. */
const BLOCK: Record<GgmlTypeName, { elems: number; bytes: number }> = {
  F32: { elems: 1, bytes: 4 },
  F16: { elems: 1, bytes: 2 },
  BF16: { elems: 1, bytes: 2 },
  Q8_0: { elems: 32, bytes: 34 },
};

export function ggmlTypeName(id: number): string {
  return GGML_TYPE_NAMES[id] ?? `type ${id}`;
}

function supportedType(id: number): GgmlTypeName | null {
  for (const [name, v] of Object.entries(GGML_TYPE_ID)) if (v === id) return name as GgmlTypeName;
  return null;
}

/** Bytes of a tensor of `type` with innermost dimension `ne0` and `count` elements in all. */
export function ggmlTensorBytes(type: GgmlTypeName, ne0: number, count: number): number {
  const b = BLOCK[type];
  if (ne0 % b.elems !== 0) throw new Error(`${type} needs the innermost dimension to be a multiple of ${b.elems}, got ${ne0}`);
  return (count / b.elems) * b.bytes;
}

/** A metadata value: a scalar or an array of scalars (arrays of arrays are not used by models). */
export type GgufScalar = number | bigint | boolean | string;
export type GgufValue =
  | { type: Exclude<GgufType, GgufType.ARRAY>; value: GgufScalar }
  | { type: GgufType.ARRAY; elemType: Exclude<GgufType, GgufType.ARRAY>; value: GgufScalar[] };

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the innermost dimension. */
  dims: number[];
  type: GgmlTypeName;
  /** Relative to the data section. */
  offset: number;
  bytes: number;
}

/** Positioned reads from a file or (tests) from bytes in memory. */
interface ByteSource {
  readonly size: number;
  read(buf: Uint8Array, position: number): void;
  close(): void;
}

function fileSource(file: string): ByteSource {
  let fd: number | null = openForReading(file, 'GGUF');
  const size = fs.fstatSync(fd).size;
  return {
    size,
    read(buf, position) {
      if (fd === null) throw new Error(`${file}: read after close`);
      readFully(fd, buf, position, file);
    },
    close() {
      if (fd !== null) fs.closeSync(fd);
      fd = null;
    },
  };
}

function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(buf, position) {
      buf.set(bytes.subarray(position, position + buf.length));
    },
    close() {},
  };
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * Sequential reader over the header, fetching the file in chunks. Every read is checked against
 * the file's size first, so a corrupt length can neither allocate beyond the file nor hang.
 */
class HeaderCursor {
  pos = 0;
  private chunk = new Uint8Array(0);
  private chunkAt = 0;

  constructor(
    private readonly src: ByteSource,
    private readonly file: string,
  ) {}

  get left(): number {
    return this.src.size - this.pos;
  }

  bytes(n: number, what: string): Uint8Array {
    if (n > this.left) {
      throw new Error(`${this.file}: ${what} (${n} bytes at byte ${this.pos}) runs past the end of the ${this.src.size}-byte file (truncated?)`);
    }
    const rel = this.pos - this.chunkAt;
    if (rel < 0 || rel + n > this.chunk.length) {
      const len = Math.min(Math.max(n, 1 << 20), this.left);
      this.chunk = new Uint8Array(len);
      this.src.read(this.chunk, this.pos);
      this.chunkAt = this.pos;
    }
    const start = this.pos - this.chunkAt;
    this.pos += n;
    return this.chunk.subarray(start, start + n);
  }

  private view(n: number, what: string): DataView {
    const b = this.bytes(n, what);
    return new DataView(b.buffer, b.byteOffset, n);
  }

  u32(what: string): number {
    return this.view(4, what).getUint32(0, true);
  }

  /** A u64 that must fit a safe integer and be at most `max` (a bound the file size implies). */
  count(what: string, max: number): number {
    const v = this.view(8, what).getBigUint64(0, true);
    if (v > BigInt(max)) throw new Error(`${this.file}: ${what} ${v} is impossible for a ${this.src.size}-byte file (truncated or corrupt?)`);
    return Number(v);
  }

  string(what: string, strict: boolean): string {
    const n = this.count(`${what}: length`, this.left - 8);
    const b = this.bytes(n, what);
    if (!strict) return Buffer.from(b.buffer, b.byteOffset, b.length).toString('utf8');
    try {
      return utf8Strict.decode(b);
    } catch {
      throw new Error(`${this.file}: ${what} is not valid UTF-8`);
    }
  }

  scalar(type: GgufType, what: string): GgufScalar {
    if (type === GgufType.STRING) return this.string(what, false);
    const size = SCALAR_BYTES[type];
    if (size === undefined) throw new Error(`${this.file}: ${what}: unknown value type ${type}`);
    const v = this.view(size, what);
    switch (type) {
      case GgufType.UINT8: return v.getUint8(0);
      case GgufType.INT8: return v.getInt8(0);
      case GgufType.UINT16: return v.getUint16(0, true);
      case GgufType.INT16: return v.getInt16(0, true);
      case GgufType.UINT32: return v.getUint32(0, true);
      case GgufType.INT32: return v.getInt32(0, true);
      case GgufType.FLOAT32: return v.getFloat32(0, true);
      case GgufType.FLOAT64: return v.getFloat64(0, true);
      case GgufType.UINT64: return v.getBigUint64(0, true);
      case GgufType.INT64: return v.getBigInt64(0, true);
      case GgufType.BOOL: {
        const b = v.getUint8(0);
        if (b > 1) throw new Error(`${this.file}: ${what}: bool byte ${b} is neither 0 nor 1`);
        return b === 1;
      }
      default: throw new Error(`${this.file}: ${what}: unknown value type ${type}`);
    }
  }

  value(what: string): GgufValue {
    const type = this.u32(`${what}: value type`);
    if (type === GgufType.ARRAY) {
      const elemType = this.u32(`${what}: array element type`);
      if (elemType === GgufType.ARRAY) throw new Error(`${this.file}: ${what}: arrays of arrays are not supported`);
      if (!(elemType in GgufType)) throw new Error(`${this.file}: ${what}: unknown array element type ${elemType}`);
      // Each element takes at least its scalar size (a string at least its 8-byte length).
      const minBytes = elemType === GgufType.STRING ? 8 : SCALAR_BYTES[elemType as GgufType]!;
      const n = this.count(`${what}: array length`, Math.floor(this.left / minBytes));
      const value: GgufScalar[] = new Array(n);
      for (let i = 0; i < n; i++) value[i] = this.scalar(elemType, `${what}[${i}]`);
      return { type: GgufType.ARRAY, elemType, value } as GgufValue;
    }
    if (!(type in GgufType)) throw new Error(`${this.file}: ${what}: unknown value type ${type}`);
    return { type, value: this.scalar(type, what) } as GgufValue;
  }
}

/** An open GGUF file: header parsed and validated, tensors read on demand. */
export class GgufFile {
  private constructor(
    readonly file: string,
    private readonly src: ByteSource,
    readonly version: number,
    readonly metadata: ReadonlyMap<string, GgufValue>,
    readonly tensors: ReadonlyMap<string, GgufTensorInfo>,
    readonly alignment: number,
    private readonly dataStart: number,
  ) {}

  static open(file: string): GgufFile {
    return GgufFile.parse(fileSource(file), file);
  }

  /** Parses bytes held in memory (`name` is used in messages). */
  static fromBytes(bytes: Uint8Array, name: string): GgufFile {
    return GgufFile.parse(memorySource(bytes), name);
  }

  private static parse(src: ByteSource, file: string): GgufFile {
    try {
      return GgufFile.parseHeader(src, file);
    } catch (e) {
      src.close();
      throw e;
    }
  }

  private static parseHeader(src: ByteSource, file: string): GgufFile {
    const c = new HeaderCursor(src, file);
    if (src.size < 24) throw new Error(`${file}: ${src.size} bytes, too short for a GGUF file (the header alone is 24)`);
    const magic = Buffer.from(c.bytes(4, 'magic')).toString('latin1');
    if (magic !== GGUF_MAGIC) throw new Error(`${file}: magic ${JSON.stringify(magic)} is not "GGUF" (not a GGUF file)`);
    const version = c.u32('version');
    if (version !== 2 && version !== 3) throw new Error(`${file}: GGUF version ${version} is not supported (2 or 3)`);
    // A tensor info takes at least 8 (name length) + 4 + 4 + 8 bytes, a key/value pair 8 + 4 + 1.
    const nTensors = c.count('tensor count', Math.floor(c.left / 24));
    const nKv = c.count('metadata count', Math.floor(c.left / 13));

    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < nKv; i++) {
      const key = c.string(`metadata key ${i}`, true);
      if (metadata.has(key)) throw new Error(`${file}: metadata key '${key}' appears twice`);
      metadata.set(key, c.value(`metadata '${key}'`));
    }
    const alignment = readAlignment(metadata, file);

    const tensors = new Map<string, GgufTensorInfo>();
    for (let i = 0; i < nTensors; i++) {
      const name = c.string(`tensor ${i}: name`, true);
      if (tensors.has(name)) throw new Error(`${file}: tensor '${name}' appears twice`);
      tensors.set(name, readTensorInfo(c, file, name));
    }
    const dataStart = alignUp(c.pos, alignment);
    if (dataStart > src.size) {
      throw new Error(`${file}: the data section would start at byte ${dataStart}, past the end of the ${src.size}-byte file (truncated?)`);
    }
    checkLayout(file, tensors, alignment, src.size - dataStart);
    return new GgufFile(file, src, version, metadata, tensors, alignment, dataStart);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): GgufTensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`${this.file}: no tensor '${name}'`);
    return t;
  }

  /** Reads one tensor, dequantized to f32. */
  read(name: string): Float32Array {
    return widenStored(this.readStored(name));
  }

  /** Reads one tensor as stored: F16 and BF16 as their bits, F32 as is, Q8_0 dequantized to f32. */
  readStored(name: string): StoredTensor {
    const t = this.info(name);
    const raw = new Uint8Array(t.bytes);
    this.src.read(raw, this.dataStart + t.offset);
    return decodeTensor(raw, t.type, t.dims.reduce((a, b) => a * b, 1));
  }

  close(): void {
    this.src.close();
  }

  // Typed metadata access: every mismatch is one error naming the file and the key.

  private fail(key: string, v: GgufValue | undefined, want: string): never {
    throw new Error(`${this.file}: metadata '${key}' is ${v === undefined ? 'missing' : describeValue(v)}, expected ${want}`);
  }

  str(key: string): string {
    const v = this.metadata.get(key);
    if (v?.type !== GgufType.STRING) this.fail(key, v, 'a STRING');
    return v.value as string;
  }

  /** A non-negative integer scalar of any integer type (`dflt` when absent, if given). */
  int(key: string, dflt?: number): number {
    const v = this.metadata.get(key);
    if (v === undefined && dflt !== undefined) return dflt;
    const n = v === undefined || v.type === GgufType.ARRAY ? NaN : Number(v.value);
    if (!(Number.isSafeInteger(n) && n >= 0) || typeof v?.value === 'boolean') this.fail(key, v, 'a non-negative integer');
    return n;
  }

  /** A positive float (an f32 as the shortest decimal that rounds to it), `dflt` when absent. */
  num(key: string, dflt: number): number {
    const v = this.metadata.get(key);
    if (v === undefined) return dflt;
    const n = v.type === GgufType.FLOAT32 || v.type === GgufType.FLOAT64 ? (v.value as number) : NaN;
    if (!(n > 0 && Number.isFinite(n))) this.fail(key, v, 'a positive FLOAT32');
    return v.type === GgufType.FLOAT32 ? shortestF32(n) : n;
  }

  /** One non-negative integer per layer: a scalar (every layer alike) or an array of `n`. */
  perLayer(key: string, n: number): number[] {
    const v = this.metadata.get(key);
    if (v?.type !== GgufType.ARRAY) return Array.from({ length: n }, () => this.int(key));
    const ok = v.value.length === n && v.value.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0);
    if (!ok) this.fail(key, v, `${n} non-negative integers (one per layer)`);
    return v.value as number[];
  }

  stringArray(key: string): string[] {
    const v = this.metadata.get(key);
    if (v?.type !== GgufType.ARRAY || v.elemType !== GgufType.STRING) this.fail(key, v, 'an array of STRING');
    return v.value as string[];
  }

  /** `n` numbers, one per token. */
  numberArray(key: string, n: number): number[] {
    const v = this.metadata.get(key);
    if (v?.type !== GgufType.ARRAY || typeof v.value[0] !== 'number' || v.value.length !== n) this.fail(key, v, `${n} numbers (one per token)`);
    return v.value as number[];
  }

  /** A token id below `n` (`dflt` when absent). */
  tokenId(key: string, n: number, dflt: number): number {
    const id = this.int(key, dflt);
    if (id >= n) this.fail(key, this.metadata.get(key), `a token id below ${n}`);
    return id;
  }
}

/** The shortest decimal that rounds to the f32 `x` (1e-5 read back as 1e-5, not 9.9999997e-6). */
function shortestF32(x: number): number {
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function readAlignment(metadata: Map<string, GgufValue>, file: string): number {
  const v = metadata.get('general.alignment');
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  const a = v.type === GgufType.UINT32 ? (v.value as number) : NaN;
  if (!(a > 0 && (a & (a - 1)) === 0)) {
    throw new Error(`${file}: metadata 'general.alignment' must be a UINT32 power of two, got ${describeValue(v)}`);
  }
  return a;
}

function readTensorInfo(c: HeaderCursor, file: string, name: string): GgufTensorInfo {
  const where = `tensor '${name}'`;
  const nDims = c.u32(`${where}: n_dims`);
  if (nDims < 1 || nDims > MAX_DIMS) throw new Error(`${file}: ${where}: ${nDims} dimensions (1 to ${MAX_DIMS} allowed)`);
  const dims: number[] = [];
  let count = 1;
  for (let k = 0; k < nDims; k++) {
    const d = c.count(`${where}: dims[${k}]`, Number.MAX_SAFE_INTEGER);
    if (d === 0) throw new Error(`${file}: ${where}: dims[${k}] is 0`);
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) throw new Error(`${file}: ${where}: dims [${dims.join(', ')}, ${d}, …] hold too many elements`);
    dims.push(d);
  }
  const typeId = c.u32(`${where}: type`);
  const type = supportedType(typeId);
  if (type === null) {
    throw new Error(`${file}: ${where} has ggml type ${ggmlTypeName(typeId)}, which slimllm does not read (F32, F16, BF16, Q8_0)`);
  }
  if (dims[0] % BLOCK[type].elems !== 0) {
    throw new Error(`${file}: ${where}: ${type} needs dims[0] to be a multiple of ${BLOCK[type].elems}, got ${dims[0]}`);
  }
  const offset = c.count(`${where}: offset`, Number.MAX_SAFE_INTEGER);
  return { name, dims, type, offset, bytes: ggmlTensorBytes(type, dims[0], count) };
}

// Offsets aligned, inside the data section, not overlapping; nothing but padding after the last.
function checkLayout(file: string, tensors: Map<string, GgufTensorInfo>, alignment: number, dataLen: number): void {
  for (const t of tensors.values()) {
    if (t.offset % alignment !== 0) throw new Error(`${file}: tensor '${t.name}': offset ${t.offset} is not a multiple of the alignment ${alignment}`);
    if (t.offset + t.bytes > dataLen) {
      throw new Error(`${file}: tensor '${t.name}': bytes [${t.offset}, ${t.offset + t.bytes}) run past the data section's ${dataLen} bytes (truncated?)`);
    }
  }
  const sorted = [...tensors.values()].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1];
    const t = sorted[i];
    if (t.offset < p.offset + p.bytes) {
      throw new Error(`${file}: tensor '${t.name}' at offset ${t.offset} overlaps tensor '${p.name}' [${p.offset}, ${p.offset + p.bytes})`);
    }
  }
  const end = sorted.length > 0 ? sorted[sorted.length - 1].offset + sorted[sorted.length - 1].bytes : 0;
  if (dataLen > alignUp(end, alignment)) {
    throw new Error(`${file}: ${dataLen - end} bytes after the last tensor's data (expected at most padding to ${alignment}; trailing garbage?)`);
  }
}

export function describeValue(v: GgufValue): string {
  if (v.type === GgufType.ARRAY) return `an array of ${v.value.length} ${GgufType[v.elemType]}`;
  return `${GgufType[v.type]} ${typeof v.value === 'string' ? JSON.stringify(v.value) : String(v.value)}`;
}

/** A tensor's values from its bytes (`raw`, its own buffer: the views below do not copy). */
function decodeTensor(raw: Uint8Array, type: GgmlTypeName, count: number): StoredTensor {
  if (type === 'F32') return new Float32Array(raw.buffer, raw.byteOffset, count);
  if (type === 'Q8_0') {
    const out = new Float32Array(count);
    dequantizeQ8_0(raw, out);
    return out;
  }
  return { dtype: type, bits: new Uint16Array(raw.buffer, raw.byteOffset, count) };
}

/**
 * ggml's Q8_0: blocks of 32 values stored as an f16 scale d = max|x| / 127 and 32 int8 q with
 * x ≈ q·d, q = round(x / d) (ties away from zero, as C's roundf).
 */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  if (x.length % 32 !== 0) throw new Error(`Q8_0 needs a multiple of 32 values, got ${x.length}`);
  const out = new Uint8Array((x.length / 32) * 34);
  const view = new DataView(out.buffer);
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[b * 32 + i]));
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    view.setUint16(b * 34, f32ToF16Bits(d), true);
    for (let i = 0; i < 32; i++) {
      const v = Math.fround(x[b * 32 + i] * id);
      view.setInt8(b * 34 + 2 + i, Math.sign(v) * Math.round(Math.abs(v)));
    }
  }
  return out;
}

export function dequantizeQ8_0(raw: Uint8Array, out: Float32Array): void {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let b = 0; b < out.length / 32; b++) {
    const d = f16BitsToF32(view.getUint16(b * 34, true));
    for (let i = 0; i < 32; i++) out[b * 32 + i] = view.getInt8(b * 34 + 2 + i) * d;
  }
}

/** A tensor's bytes as `type`: 16-bit values already in that type are written as they are. */
function encodeTensor(data: StoredTensor, type: GgmlTypeName): Uint8Array {
  return type === 'Q8_0' ? quantizeQ8_0(widenStored(data)) : encodeStored(data, type);
}

// ---------------------------------------------------------------------------------------------
// Writer

export interface GgufTensorToWrite {
  name: string;
  /** ggml order (dims[0] innermost). */
  dims: number[];
  type: GgmlTypeName;
  /** The values (f32, or 16-bit as stored), produced when their turn comes (lets callers stream one layer at a time). */
  data: () => StoredTensor;
}

/** A metadata entry to write; strings may be given as raw UTF-8 bytes. */
export type GgufEntry =
  | { type: Exclude<GgufType, GgufType.ARRAY>; value: GgufScalar | Uint8Array }
  | { type: GgufType.ARRAY; elemType: Exclude<GgufType, GgufType.ARRAY>; value: readonly (GgufScalar | Uint8Array)[] | Float32Array | Int32Array };

class ByteWriter {
  private parts: Uint8Array[] = [];
  length = 0;

  push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }

  fixed(n: number, fill: (v: DataView) => void): void {
    const b = new Uint8Array(n);
    fill(new DataView(b.buffer));
    this.push(b);
  }

  u32(v: number): void {
    this.fixed(4, (d) => d.setUint32(0, v, true));
  }

  u64(v: number | bigint): void {
    this.fixed(8, (d) => d.setBigUint64(0, BigInt(v), true));
  }

  string(s: string | Uint8Array): void {
    const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
    this.u64(b.length);
    this.push(b);
  }

  scalar(type: GgufType, v: GgufScalar | Uint8Array): void {
    if (type === GgufType.STRING) {
      if (typeof v !== 'string' && !(v instanceof Uint8Array)) throw new Error(`GGUF STRING value ${String(v)} is not a string`);
      this.string(v);
      return;
    }
    const size = SCALAR_BYTES[type];
    if (size === undefined) throw new Error(`GGUF value type ${type} is not a scalar`);
    this.fixed(size, (d) => {
      switch (type) {
        case GgufType.UINT8: d.setUint8(0, Number(v)); break;
        case GgufType.INT8: d.setInt8(0, Number(v)); break;
        case GgufType.UINT16: d.setUint16(0, Number(v), true); break;
        case GgufType.INT16: d.setInt16(0, Number(v), true); break;
        case GgufType.UINT32: d.setUint32(0, Number(v), true); break;
        case GgufType.INT32: d.setInt32(0, Number(v), true); break;
        case GgufType.FLOAT32: d.setFloat32(0, Number(v), true); break;
        case GgufType.FLOAT64: d.setFloat64(0, Number(v), true); break;
        case GgufType.BOOL: d.setUint8(0, v ? 1 : 0); break;
        case GgufType.UINT64: d.setBigUint64(0, BigInt(v as number), true); break;
        case GgufType.INT64: d.setBigInt64(0, BigInt(v as number), true); break;
      }
    });
  }

  bytes(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

/**
 * Writes a GGUF v3 file (through a temporary file renamed into place: see atomic-file.ts).
 */
export function writeGguf(
  file: string,
  metadata: ReadonlyMap<string, GgufEntry>,
  tensors: readonly GgufTensorToWrite[],
  alignment = GGUF_DEFAULT_ALIGNMENT,
): void {
  const h = new ByteWriter();
  h.push(Buffer.from(GGUF_MAGIC, 'latin1'));
  h.u32(3);
  h.u64(tensors.length);
  h.u64(metadata.size + (metadata.has('general.alignment') ? 0 : 1));
  const entries = new Map(metadata);
  if (!entries.has('general.alignment')) entries.set('general.alignment', { type: GgufType.UINT32, value: alignment });
  for (const [key, v] of entries) {
    h.string(key);
    h.u32(v.type);
    if (v.type === GgufType.ARRAY) {
      h.u32(v.elemType);
      h.u64(v.value.length);
      for (const x of v.value) h.scalar(v.elemType, x);
    } else h.scalar(v.type, v.value);
  }
  const names = new Set<string>();
  let offset = 0;
  const sizes: number[] = [];
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`${file}: tensor '${t.name}' twice`);
    names.add(t.name);
    const count = t.dims.reduce((a, b) => a * b, 1);
    const bytes = ggmlTensorBytes(t.type, t.dims[0], count);
    h.string(t.name);
    h.u32(t.dims.length);
    for (const d of t.dims) h.u64(d);
    h.u32(GGML_TYPE_ID[t.type]);
    h.u64(offset);
    sizes.push(bytes);
    offset = alignUp(offset + bytes, alignment);
  }
  h.push(new Uint8Array(alignUp(h.length, alignment) - h.length));

  writeFileAtomically(file, (fd) => {
    writeFully(fd, h.bytes());
    tensors.forEach((t, k) => {
      const data = t.data();
      const want = t.dims.reduce((a, b) => a * b, 1);
      const have = storedLength(data);
      if (have !== want) throw new Error(`${file}: tensor '${t.name}': ${have} values, dims [${t.dims.join(', ')}] need ${want}`);
      writeFully(fd, encodeTensor(data, t.type));
      writeFully(fd, new Uint8Array(alignUp(sizes[k], alignment) - sizes[k]));
    });
  });
}
