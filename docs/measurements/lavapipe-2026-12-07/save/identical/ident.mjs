import * as fs from 'node:fs'; import { createHash } from 'node:crypto';
const dist = process.argv[2];
const { openHf } = await import(dist + '/src/model/hf.js');
const { loadModelSource } = await import(dist + '/src/model/load.js').catch(() => ({}));
const { saveModel } = await import(dist + '/src/model/writer.js');
const { writeSyntheticCheckpoint } = await import(dist + '/bench/synth.js');
const root = '/tmp/exp/ident'; fs.rmSync(root, { recursive: true, force: true }); fs.mkdirSync(root);
for (const shape of ['tiny']) writeSyntheticCheckpoint(root + '/m-' + shape, { shape, seed: 3 });
const out = [];
for (const dtype of ['F16', 'F32', 'Q8_0', 'BF16']) {
  for (const fmt of ['gguf', 'hf']) {
    if (fmt === 'hf' && dtype === 'Q8_0') continue;
    if (fmt === 'gguf' && dtype === 'BF16') continue;
    const src = openHf(root + '/m-tiny');
    const dst = root + `/o-${dtype}` + (fmt === 'gguf' ? '.gguf' : '');
    saveModel(src, dst, { dtype });
    src.close();
    const files = fmt === 'gguf' ? [dst] : fs.readdirSync(dst).sort().map((f) => dst + '/' + f);
    const h = createHash('sha256'); for (const f of files) h.update(fs.readFileSync(f));
    out.push(`${fmt} ${dtype} ${h.digest('hex').slice(0, 16)}`);
  }
}
console.log(out.join('\n'));
