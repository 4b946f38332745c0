// Files written under a temporary name beside their destination and renamed into place at the
// end, so that an interrupted or failed write never leaves a half-written file under the real name.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeOnExit, removeStale, TEMP_NAME, tempName } from '../cleanup.js';

/** Writes `buf` whole at the file position (positioned writes of at most 1 GiB each). */
export function writeFully(fd: number, buf: Uint8Array): void {
  const CHUNK = 1 << 30;
  let done = 0;
  while (done < buf.length) done += fs.writeSync(fd, buf, done, Math.min(CHUNK, buf.length - done));
}

/** Runs `write` on a temporary file beside `file`, then renames it over `file`; removes it on error. */
export function writeFileAtomically(file: string, write: (fd: number) => void): void {
  const dir = path.dirname(file);
  removeStale(dir, TEMP_NAME);
  const tmp = tempName(dir, path.basename(file));
  const keep = removeOnExit(tmp);
  const fd = fs.openSync(tmp, 'w');
  try {
    write(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
    keep();
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      /* already closed */
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
