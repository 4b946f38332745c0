// CPU twins of the small kernels: SwiGLU, add, row cosine, NLL, row slices and column gathers.
import { dims2 } from '../shapes.js';
import { CpuTensor } from './tensor.js';

function sameShape(a: CpuTensor, b: CpuTensor, op: string): void {
  if (a.size !== b.size) throw new Error(`${op}: shapes [${a.shape}] and [${b.shape}] differ`);
}

export function swiglu(gate: CpuTensor, up: CpuTensor): CpuTensor {
  sameShape(gate, up, 'swiglu');
  const out = new Float32Array(gate.size);
  for (let i = 0; i < out.length; i++) {
    const g = gate.data[i];
    out[i] = (g / (1 + Math.exp(-g))) * up.data[i];
  }
  return new CpuTensor(out, gate.shape);
}

export function add(a: CpuTensor, b: CpuTensor): CpuTensor {
  sameShape(a, b, 'add');
  const out = new Float32Array(a.size);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i] + b.data[i];
  return new CpuTensor(out, a.shape);
}

/** cos of two rows; a zero row has cosine 0 with anything; a non-finite row gives a non-finite sum. */
export function rowCosineSum(a: CpuTensor, b: CpuTensor): CpuTensor {
  sameShape(a, b, 'rowCosineSum');
  const [rows, D] = dims2(a);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let j = r * D; j < (r + 1) * D; j++) {
      dot += a.data[j] * b.data[j];
      na += a.data[j] * a.data[j];
      nb += b.data[j] * b.data[j];
    }
    const den = Math.sqrt(na) * Math.sqrt(nb); // as the shader: no overflow of the product
    total += den === 0 ? 0 : dot / den; // as the shader: non-finite rows stay non-finite
  }
  return new CpuTensor(new Float32Array([total]), [1]);
}

export function nll(logits: CpuTensor, targets: CpuTensor): CpuTensor {
  const [rows, V] = dims2(logits);
  if (targets.size !== rows) throw new Error(`nll: ${targets.size} targets for ${rows} rows`);
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    const t = targets.data[r];
    if (!(t >= 0 && t < V && Number.isInteger(t))) throw new Error(`nll: target ${t} outside vocab ${V}`);
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (logits.data[o + j] > max) max = logits.data[o + j];
    let sum = 0;
    for (let j = 0; j < V; j++) sum += Math.exp(logits.data[o + j] - max);
    out[r] = Math.log(sum) + max - logits.data[o + t];
  }
  return new CpuTensor(out, [rows]);
}

export function sliceRows(x: CpuTensor, start: number, count: number): CpuTensor {
  const [rows, cols] = dims2(x);
  if (start < 0 || count < 0 || start + count > rows) throw new Error(`sliceRows: [${start}, ${start + count}) outside ${rows} rows`);
  return new CpuTensor(x.data.slice(start * cols, (start + count) * cols), [count, cols]);
}

export function gatherRows(x: CpuTensor, rows: readonly number[]): CpuTensor {
  const [n, K] = dims2(x);
  for (const r of rows) if (!(Number.isInteger(r) && r >= 0 && r < n)) throw new Error(`gatherRows: row ${r} outside ${n}`);
  const out = new Float32Array(rows.length * K);
  rows.forEach((r, i) => out.set(x.data.subarray(r * K, (r + 1) * K), i * K));
  return new CpuTensor(out, [rows.length, K]);
}

/** xᵀ [C × R] of a 2-D x [R × C]. */
export function transpose(x: CpuTensor): CpuTensor {
  const [R, C] = dims2(x);
  const out = new Float32Array(R * C);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[c * R + r] = x.data[r * C + c];
  return new CpuTensor(out, [C, R]);
}

export function gatherColumns(x: CpuTensor, cols: readonly number[]): CpuTensor {
  const [rows, K] = dims2(x);
  for (const c of cols) if (!(c >= 0 && c < K)) throw new Error(`gatherColumns: column ${c} outside ${K}`);
  const n = cols.length;
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) out[r * n + j] = x.data[r * K + cols[j]];
  return new CpuTensor(out, [rows, n]);
}
