// Just enough WGSL reading to check a kernel's named uniforms against its shader: which uniform
// struct an entry point uses (through the functions it calls, as the auto layout decides) and
// that struct's fields. Text-level, on shaders this project writes; not a WGSL parser.

export interface StructField {
  readonly name: string;
  readonly type: string;
}

/** The uniform buffer an entry point reads: variable, binding, struct and fields in order. */
export interface EntryUniform {
  readonly variable: string;
  readonly binding: number;
  readonly struct: string;
  readonly fields: readonly StructField[];
}

function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, '');
}

/** Function name → body text (between its outer braces). */
function functionBodies(code: string): Map<string, string> {
  const bodies = new Map<string, string>();
  for (const m of code.matchAll(/\bfn\s+(\w+)\s*\(/g)) {
    const open = code.indexOf('{', m.index);
    let depth = 0;
    let end = open;
    for (; end < code.length; end++) {
      if (code[end] === '{') depth++;
      else if (code[end] === '}' && --depth === 0) break;
    }
    bodies.set(m[1], code.slice(open + 1, end));
  }
  return bodies;
}

/** Identifiers the entry point reaches: its own body and, transitively, the functions it calls. */
function reachedIdentifiers(bodies: Map<string, string>, entryPoint: string): Set<string> {
  const seen = new Set<string>();
  const pending = [entryPoint];
  const names = new Set<string>();
  while (pending.length > 0) {
    const fn = pending.pop() as string;
    if (seen.has(fn)) continue;
    seen.add(fn);
    for (const [id] of (bodies.get(fn) ?? '').matchAll(/\b[A-Za-z_]\w*\b/g)) {
      names.add(id);
      if (bodies.has(id)) pending.push(id);
    }
  }
  return names;
}

function structFields(code: string, struct: string): StructField[] | null {
  const m = new RegExp(`\\bstruct\\s+${struct}\\s*\\{([^}]*)\\}`).exec(code);
  if (!m) return null;
  return m[1]
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f.length > 0)
    .map((f) => {
      const [name, type] = f.split(':').map((s) => s.trim());
      return { name, type };
    });
}

/**
 * The uniform struct `entryPoint` of `code` uses, or null when it uses none. Throws when the entry
 * point does not exist or reaches more than one uniform buffer.
 */
export function entryUniform(code: string, entryPoint: string): EntryUniform | null {
  const text = stripComments(code);
  const bodies = functionBodies(text);
  if (!bodies.has(entryPoint)) throw new Error(`no entry point '${entryPoint}'`);
  const reached = reachedIdentifiers(bodies, entryPoint);
  const uniforms = [...text.matchAll(/@binding\((\d+)\)\s*var<uniform>\s+(\w+)\s*:\s*(\w+)/g)].filter((m) => reached.has(m[2]));
  if (uniforms.length === 0) return null;
  if (uniforms.length > 1) throw new Error(`entry point '${entryPoint}' reads ${uniforms.length} uniform buffers (${uniforms.map((u) => u[2]).join(', ')}); kernels take one`);
  const [, binding, variable, struct] = uniforms[0];
  const fields = structFields(text, struct);
  if (!fields) throw new Error(`uniform '${variable}' has type '${struct}', which is not a struct of this shader`);
  return { variable, binding: Number(binding), struct, fields };
}
