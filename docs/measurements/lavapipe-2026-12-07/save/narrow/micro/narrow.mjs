const { narrowF16 } = await import(process.argv[2] + '/src/model/half.js');
const n = 20_000_000; const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = (Math.random() - 0.5) * 0.05;
const out = new Uint16Array(n); const ts = [];
for (let r = 0; r < 5; r++) { const t = performance.now(); narrowF16(a, out); ts.push((performance.now() - t) / n * 1e6); }
console.log(process.argv[2], 'ns/value', ts.map((x) => x.toFixed(2)).join(' '));
