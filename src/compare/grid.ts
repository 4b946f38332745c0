// The grid of a comparison: which (method, recovery, attention unit) triples run.
import { METHOD_NAMES, type MethodName } from '../prune/methods.js';
import { defaultRecovery } from '../prune/options.js';
import { RECOVERY_NAMES, type RecoveryName } from '../prune/recoveries.js';
import { HEAD_UNITS, type HeadUnit } from '../prune/units.js';

export interface GridEntry {
  method: MethodName;
  recovery: RecoveryName;
  /** What an attention unit is in this series (whole KV groups unless query heads are asked for). */
  headUnit: HeadUnit;
}

/** True when a run or summary belongs to the series `g`. */
export function inSeries(x: { method: string; recovery: string; headUnit?: HeadUnit }, g: GridEntry): boolean {
  return x.method === g.method && x.recovery === g.recovery && (x.headUnit ?? 'group') === g.headUnit;
}

/**
 * The (method, recovery) pairs of a grid: every method with every recovery entry, where an entry is
 * a recovery name, `default` (the method's own) or `method:recovery` (that method only), once per
 * head unit. Duplicates (e.g. wanda-sp's default is none) are dropped; order follows `headUnits`,
 * then `methods`, then `recoveries`.
 */
export function expandGrid(methods: readonly string[], recoveries: readonly string[], headUnits: readonly string[] = ['group']): GridEntry[] {
  for (const u of headUnits) if (!HEAD_UNITS.includes(u as HeadUnit)) throw new Error(`unknown head unit '${u}' (one of ${HEAD_UNITS.join(', ')})`);
  for (const m of methods) if (!METHOD_NAMES.includes(m as MethodName)) throw new Error(`unknown method '${m}' (one of ${METHOD_NAMES.join(', ')})`);
  const parsed = recoveries.map((e) => {
    const [a, b] = e.includes(':') ? e.split(':', 2) : [null, e];
    if (a !== null && !METHOD_NAMES.includes(a as MethodName)) throw new Error(`unknown method '${a}' in recovery entry '${e}'`);
    if (b !== 'default' && !RECOVERY_NAMES.includes(b as RecoveryName)) throw new Error(`unknown recovery '${b}' (one of default, ${RECOVERY_NAMES.join(', ')})`);
    return { only: a, rec: b };
  });
  const out: GridEntry[] = [];
  const seen = new Set<string>();
  for (const headUnit of headUnits as HeadUnit[]) {
    for (const m of methods as MethodName[]) {
      for (const { only, rec } of parsed) {
        if (only !== null && only !== m) continue;
        const recovery = rec === 'default' ? defaultRecovery(m) : (rec as RecoveryName);
        const key = `${m}/${recovery}/${headUnit}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ method: m, recovery, headUnit });
      }
    }
  }
  if (out.length === 0) throw new Error('the grid is empty: check --methods and --recoveries');
  return out;
}
