// Outputs of a command: checked before any work, kept only once the command has finished.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { yieldToEventLoop } from '../model/runner.js';

/**
 * Marks outputs as finished, after letting the event loop run once: a Ctrl-C that arrived during a
 * synchronous save is handled first (and removes them), so an interrupted command leaves nothing.
 */
export async function keepAfterPendingSignals(keep: (() => void)[]): Promise<void> {
  // Two turns: the second setImmediate runs only after a poll phase, where signals are read.
  await yieldToEventLoop();
  await yieldToEventLoop();
  for (const k of keep) k();
}

/**
 * Fails before any work when `out` cannot be written: the nearest folder that exists above it
 * must take a new file (tried with a probe file, removed at once).
 */
export function checkWritable(out: string, file = out): void {
  let dir = path.dirname(path.resolve(file));
  while (!fs.existsSync(dir)) dir = path.dirname(dir);
  const probe = path.join(dir, `.slimllm-probe-${process.pid}`);
  try {
    if (!fs.statSync(dir).isDirectory()) throw new Error('not a folder');
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`--out ${out}: cannot write in ${dir} (${code ?? (e as Error).message})`);
  }
}
