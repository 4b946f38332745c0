import * as fs from 'node:fs';
const dist = process.argv[2];
const { loadModelWeights } = await import(dist + '/src/model/load.js');
const { saveModel } = await import(dist + '/src/model/writer.js');
const w = loadModelWeights('/tmp/exp/tl22');
for (let r = 0; r < 2; r++) { fs.rmSync('/tmp/exp/o32', { recursive: true, force: true }); const t = performance.now(); saveModel(w, '/tmp/exp/o32', { dtype: 'F16' }); console.log('save', (performance.now() - t).toFixed(0)); }
fs.rmSync('/tmp/exp/o32', { recursive: true, force: true });
