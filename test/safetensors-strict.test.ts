// safetensors follows the format's rules exactly: tensors cover the data section with no holes and
// nothing after them, the header is valid UTF-8 JSON without duplicate keys, metadata are strings.
// A seeded mutation run checks the promise that matters: a mutated file is refused with an error
// naming it, or reads back the original tensors — never shifted ones.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { duplicateJsonKey, SafetensorsFile, writeSafetensors } from '../src/model/safetensors.js';
import { rng } from './helpers.js';
import { rand } from './synthetic-model.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-st-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let counter = 0;
const fresh = () => path.join(tmp, `${counter++}.safetensors`);

function sample(): Buffer {
  const f = fresh();
  writeSafetensors(f, [
    { name: 'a', shape: [3, 5], data: rand(15, 1) },
    { name: 'b', shape: [7], data: rand(7, 2) },
    { name: 'c', shape: [2, 2, 3], data: rand(12, 3) },
  ], { metadata: { note: 'x' } });
  return fs.readFileSync(f);
}

function openBytes(b: Uint8Array): { f: string; st: SafetensorsFile } {
  const f = fresh();
  fs.writeFileSync(f, b);
  return { f, st: SafetensorsFile.open(f) };
}

const headerEnd = (b: Buffer) => 8 + Number(b.readBigUInt64LE(0));

describe('safetensors: the format\'s rules', () => {
  const good = sample();

  it('a byte inserted into the data section is refused, not read shifted', () => {
    const at = headerEnd(good) + 10;
    const b = Buffer.concat([good.subarray(0, at), Buffer.from([7]), good.subarray(at)]);
    const f = fresh();
    fs.writeFileSync(f, b);
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: 1 bytes after the last tensor's data (the tensors must cover the data section exactly: trailing bytes, or a header length that is off?)`);
  });

  it('trailing garbage and a header length 2 short are refused', () => {
    const f = fresh();
    fs.writeFileSync(f, Buffer.concat([good, Buffer.from('junk')]));
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: 4 bytes after the last tensor's data`);
    // Writers pad the JSON with spaces: a length 2 short still reads as valid JSON.
    const json = Buffer.from(`${JSON.stringify({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } })}    `);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length - 2));
    const g = fresh();
    fs.writeFileSync(g, Buffer.concat([len, json, Buffer.alloc(8)]));
    expect(() => SafetensorsFile.open(g)).toThrow(`${g}: 2 bytes after the last tensor's data`);
  });

  it('a hole between tensors is refused', () => {
    const header = { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } };
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const f = fresh();
    fs.writeFileSync(f, Buffer.concat([len, json, Buffer.alloc(12)]));
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: tensor 'b': data_offsets [8, 12] leave bytes [4, 8) of the data section to no tensor (the tensors must cover it exactly)`);
  });

  it('duplicate keys, invalid UTF-8 and non-string metadata are refused', () => {
    const raw = (text: Buffer, data = 4) => {
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(text.length));
      const f = fresh();
      fs.writeFileSync(f, Buffer.concat([len, text, Buffer.alloc(data)]));
      return f;
    };
    const t = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
    let f = raw(Buffer.from(`{"a":${t},"a":${t}}`));
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: header: key "a" appears twice in one object`);
    f = raw(Buffer.from(`{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}`));
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: header: key "dtype" appears twice in one object`);
    f = raw(Buffer.concat([Buffer.from('{"\xff":'), Buffer.from(`${t}}`)]).fill(0xff, 2, 3));
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: header is not valid UTF-8`);
    f = raw(Buffer.from(`{"__metadata__":{"n":3},"a":${t}}`));
    expect(() => SafetensorsFile.open(f)).toThrow(`${f}: __metadata__ 'n' is 3, not a string`);
    expect(duplicateJsonKey('{"a":[{"b":1},{"b":2}],"c":"\\"a\\"","d":{"a":1}}')).toBeNull();
    expect(duplicateJsonKey('{"x":{"\\u0061":1,"a":2}}')).toBe('a');
  });

  it('10,000 seeded mutations: each refused with an error naming the file, or read back unshifted', () => {
    const original = SafetensorsFile.open((() => { const f = fresh(); fs.writeFileSync(f, good); return f; })());
    const want = new Map([...original.tensors.keys()].map((n) => [n, original.read(n)]));
    original.close();
    const f = path.join(tmp, 'mutant.safetensors');
    const r = rng(14);
    const int = (n: number) => Math.floor(r() * n);
    const dataStart = headerEnd(good);
    let refused = 0;
    let read = 0;
    for (let k = 0; k < 10_000; k++) {
      let b = Buffer.from(good);
      const kind = int(6);
      const at = int(kind === 2 || kind === 3 || kind === 5 ? b.length : dataStart); // header only, or anywhere
      if (kind === 0 || kind === 5) b[at] ^= 1 << int(8); // one bit (header, or anywhere)
      else if (kind === 1) b[at] = int(256);
      else if (kind === 2) b = Buffer.concat([b.subarray(0, at), Buffer.from([int(256)]), b.subarray(at)]); // insert
      else if (kind === 3) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]); // delete
      else b = b.subarray(0, int(b.length)); // truncate
      fs.writeFileSync(f, b);
      let st: SafetensorsFile;
      try {
        st = SafetensorsFile.open(f);
      } catch (e) {
        if (!(e instanceof Error) || !e.message.startsWith(f)) throw new Error(`mutation ${k} (kind ${kind} at ${at}): ${String(e)}`);
        refused++;
        continue;
      }
      // Read: the same tensors with the same values, except that a data byte changed in place
      // changes the one tensor that holds it (not a shift: every other tensor is exact).
      const holder = kind === 5 && at >= dataStart ? [...st.tensors.values()].find((t) => at - dataStart >= t.begin && at - dataStart < t.end)?.name : undefined;
      for (const [name, values] of want) {
        const t = st.tensors.get(name);
        if (!t) continue; // a renamed tensor: still no shift; its name is the header's business
        if (name !== holder) expect(st.read(name), `mutation ${k} (kind ${kind} at ${at}), tensor ${name}`).toEqual(values);
      }
      st.close();
      read++;
    }
    expect(refused + read).toBe(10_000);
    expect(refused).toBeGreaterThan(3000);
  });
});
