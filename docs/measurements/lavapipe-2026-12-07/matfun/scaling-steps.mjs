// s = ⌈log2(‖A‖∞/(μ·θ))⌉ (θ = ½, μ = trace/n) of bench/matfun.ts's matrix: the number of doublings
// spectralSigmoid does on it, so that the product counts before (13 + s) and after (10 + s) are known.
// Run from a built checkout: node docs/measurements/lavapipe-2026-12-07/matfun/scaling-steps.mjs [n] [spread]
import { GpuBackend } from '../../../../dist/src/kernels/gpu/index.js';
import { normalSampler } from '../../../../dist/bench/common.js';
const n = Number(process.argv[2] ?? 2048), spread = Number(process.argv[3] ?? 1e4);
const b = await GpuBackend.create();
const next = normalSampler(7);
const g = new Float32Array(n * n);
for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) g[i * n + j] = next() * spread ** (n > 1 ? j / (n - 1) - 0.5 : 0);
const gt = b.upload(g, [n, n]);
const a = await b.read(b.symmetricLinear(gt, gt));
let trace = 0, normInf = 0;
for (let i = 0; i < n; i++) { let r = 0; for (let j = 0; j < n; j++) r += Math.abs(a[i * n + j]); normInf = Math.max(normInf, r); trace += a[i * n + i]; }
const s = Math.max(0, Math.ceil(Math.log2(normInf / (trace / n) / 0.5)));
console.log(JSON.stringify({ n, spread, trace, normInf, s, productsBefore: 13 + s, productsAfter: 10 + s }));
b.dispose();
