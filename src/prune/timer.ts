// Wall time per phase; nested phases charge only the innermost one, so phases add up to the total.
export type Phase = 'forward' | 'statistics' | 'scoring' | 'eigen' | 'regression';

export class PhaseTimer {
  readonly ms: Record<Phase, number> = { forward: 0, statistics: 0, scoring: 0, eigen: 0, regression: 0 };
  private stack: { phase: Phase; start: number }[] = [];

  /** The phase being timed now (the innermost), or null between phases. */
  current(): Phase | null {
    return this.stack[this.stack.length - 1]?.phase ?? null;
  }

  async time<R>(phase: Phase, f: () => Promise<R> | R): Promise<R> {
    const now = performance.now();
    const outer = this.stack[this.stack.length - 1];
    if (outer) this.ms[outer.phase] += now - outer.start;
    this.stack.push({ phase, start: now });
    try {
      return await f();
    } finally {
      const end = performance.now();
      const me = this.stack.pop()!;
      this.ms[phase] += end - me.start;
      if (outer) outer.start = end;
    }
  }
}
