// Where the linear kernels keep their register tile, read from the SPIR-V Dawn's Tint emits
// (bench/shader-registers.ts, run compiled as a user would): the register-resident kernel has no
// function-scope array at all; the tiled kernel's accumulator array is indexed with run-time
// values (the negative control: the check finds what it looks for).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseSpirv } from '../bench/shader-registers.js';
import { packageRoot } from '../src/paths.js';

interface Report {
  kernels: { kind: string; modules: { functionArrays: { name: string; dynamicAccesses: number }[]; dynamicAccesses: number }[] }[];
}

describe('register tiles in the SPIR-V', () => {
  it('the register kernel has no function-scope array; the tiled one indexes its array at run time', () => {
    const script = path.join(packageRoot(), 'dist/bench/shader-registers.js');
    const out = execFileSync(process.execPath, [script, '--kinds', 'tiled,register'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const report = JSON.parse(out.trim().split('\n').at(-1) as string) as Report;
    const [tiled, register] = report.kernels;
    expect(register.kind).toBe('register');
    expect(register.modules.length).toBe(1);
    expect(register.modules[0].functionArrays).toEqual([]);
    expect(tiled.kind).toBe('tiled');
    expect(tiled.modules.length).toBe(1);
    expect(tiled.modules[0].dynamicAccesses).toBeGreaterThan(0);
    expect(tiled.modules[0].functionArrays.map((a) => a.name)).toContain('acc');
  });

  it('counts run-time and constant indexing of arrays and of pointers to them', () => {
    const spirv = [
      'OpName %acc "acc"',
      'OpName %p "p"',
      '%uint = OpTypeInt 32 0',
      '%uint_4 = OpConstant %uint 4',
      '%uint_1 = OpConstant %uint 1',
      '%arr = OpTypeArray %uint %uint_4',
      '%ptr = OpTypePointer Function %arr',
      '%eptr = OpTypePointer Function %uint',
      '%p = OpFunctionParameter %ptr',
      '%i = OpLoad %uint %x',
      '%a1 = OpAccessChain %eptr %p %i',
      '%acc = OpVariable %ptr Function',
      '%a2 = OpAccessChain %eptr %acc %uint_1',
      '%a3 = OpAccessChain %eptr %acc %i',
      '%wg = OpVariable %ptr Workgroup',
      '%a4 = OpAccessChain %eptr %wg %i',
    ].join('\n');
    expect(analyseSpirv(spirv)).toEqual({
      functionArrays: [
        { name: 'p', dynamicAccesses: 1, constantAccesses: 0 },
        { name: 'acc', dynamicAccesses: 1, constantAccesses: 1 },
      ],
      dynamicAccesses: 2,
    });
  });
});
