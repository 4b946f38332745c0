// Argument parsers and small output helpers shared by the commands.
import { InvalidArgumentError } from 'commander';
import { type DeviceKind } from '../kernels/index.js';
import { writeFileAtomically, writeFully } from '../model/atomic-file.js';

export function num(kind: 'int' | 'float', min = -Infinity) {
  return (v: string) => {
    const n = v.trim() === '' ? NaN : Number(v);
    if (!Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) throw new InvalidArgumentError(`'${v}' is not ${kind === 'int' ? 'an integer' : 'a number'}`);
    if (n < min) throw new InvalidArgumentError(`${n} is below the smallest allowed, ${min}`);
    return n;
  };
}

export function device(v: string): DeviceKind {
  if (v !== 'gpu' && v !== 'cpu') throw new InvalidArgumentError(`device must be gpu or cpu, not '${v}'`);
  return v;
}

export function oneOf<N extends string>(what: string, names: readonly N[]) {
  return (v: string): N => {
    if (!names.includes(v as N)) throw new InvalidArgumentError(`${what} must be one of ${names.join(', ')}, not '${v}'`);
    return v as N;
  };
}

export function list<N>(parse: (v: string) => N) {
  return (v: string): N[] => {
    const items = v
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x.length > 0);
    if (items.length === 0) throw new InvalidArgumentError(`'${v}' is an empty list`);
    return items.map(parse);
  };
}

export const DTYPES = ['F32', 'F16', 'BF16', 'Q8_0'] as const;
export function dtypeArg(v: string): (typeof DTYPES)[number] {
  const d = v.toUpperCase() as (typeof DTYPES)[number];
  if (!DTYPES.includes(d)) throw new InvalidArgumentError(`dtype must be one of f32, f16, bf16, q8_0, not '${v}'`);
  return d;
}

export function printJson(o: unknown): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}


/** Writes a file via a temp name + rename, so an interrupted run never leaves half a file. */
export function writeFileAtomic(file: string, data: string): void {
  writeFileAtomically(file, (fd) => writeFully(fd, Buffer.from(data, 'utf8')));
}
