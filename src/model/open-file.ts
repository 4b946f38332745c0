// Opening a file to read, with one clear error naming it (not Node's bare ENOENT / EISDIR / EACCES).
import * as fs from 'node:fs';

/** Opens `file` for reading; `what` names the kind of file expected (for the message). */
export function openForReading(file: string, what: string): number {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) throw new Error(`${file}: no such file`);
  if (!st.isFile()) throw new Error(`${file}: is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, not a ${what} file`);
  try {
    return fs.openSync(file, 'r');
  } catch (e) {
    throw new Error(`${file}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** The whole of `file` (see openForReading for the errors). */
export function readWholeFile(file: string, what: string): Buffer {
  const fd = openForReading(file, what);
  try {
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Fills `buf` from `position` of an open file, in reads of at most 1 GiB (readSync's length is a
 * 32-bit int). A short file is an error naming `where`.
 */
export function readFully(fd: number, buf: Uint8Array, position: number, where: string): void {
  const CHUNK = 1 << 30;
  let done = 0;
  while (done < buf.length) {
    const n = fs.readSync(fd, buf, done, Math.min(CHUNK, buf.length - done), position + done);
    if (n <= 0) throw new Error(`${where}: unexpected end of file at byte ${position + done}`);
    done += n;
  }
}
