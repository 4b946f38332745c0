// What a run creates and must not leave behind: work folders, temporary outputs, and (in the CLI)
// the output itself until the command has finished. Registered paths are removed when the process
// exits — normally, by an uncaught error, or on SIGINT/SIGTERM once `exitOnSignals` is installed
// (the CLI does; a library user decides for their own process). A run killed outright (SIGKILL,
// power loss) cannot clean up: its temporary names carry its pid, and `removeStale` removes those
// of dead processes the next time a run works in the same folder.
import * as fs from 'node:fs';
import * as path from 'node:path';

const pending = new Set<string>();
let hooked = false;

function removeAll(): void {
  for (const p of pending) fs.rmSync(p, { recursive: true, force: true });
  pending.clear();
}

/** Removes `p` (file or folder) at exit unless the returned `keep` is called first. */
export function removeOnExit(p: string): () => void {
  if (!hooked) {
    hooked = true;
    process.once('exit', removeAll);
  }
  pending.add(p);
  return () => void pending.delete(p);
}

/** SIGINT / SIGTERM end the process through 'exit' (so registered paths are removed): 130 / 143. */
export function exitOnSignals(): void {
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
}

/** A temporary name for `base` inside `dir` that records this process's pid (see removeStale). */
export function tempName(dir: string, base: string): string {
  return path.join(dir, `.${base}.tmp-${process.pid}-${Date.now()}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the entries of `dir` whose names match `pattern` (its first group: the pid that made
 * them) and whose process is gone.
 */
export function removeStale(dir: string, pattern: RegExp): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = pattern.exec(n);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
  }
}

/** Temporary names made by tempName (any base). */
export const TEMP_NAME = /^\..+\.tmp-(\d+)-\d+(\.old)?$/;
