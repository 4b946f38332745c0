// Files a user names on the command line: text (evaluation, calibration) and calibration token ids.
// Anything else — a folder, binary data, malformed JSON, a row that is not token ids — is one error
// naming the file (and the row and position).
import { readWholeFile } from './model/open-file.js';

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** A UTF-8 text file's contents, or one error naming the file. */
export function readText(file: string, what = 'text'): string {
  const bytes = readWholeFile(file, what);
  let text: string;
  try {
    text = utf8Strict.decode(bytes);
  } catch {
    throw new Error(`${file}: not a UTF-8 ${what} file`);
  }
  const nul = text.indexOf('\0');
  if (nul >= 0) throw new Error(`${file}: not a ${what} file (NUL byte at character ${nul})`);
  return text;
}

/** Calibration token ids from a JSON file: a non-empty list of non-empty rows of token ids. */
export function readCalibTokens(file: string): number[][] {
  let rows: unknown;
  try {
    rows = JSON.parse(readText(file, 'JSON'));
  } catch (e) {
    throw new Error(e instanceof SyntaxError ? `${file}: not valid JSON (${e.message})` : (e as Error).message);
  }
  if (!Array.isArray(rows) || rows.length === 0) throw new Error(`${file}: expected a non-empty JSON array of token-id rows`);
  rows.forEach((row, r) => {
    if (!Array.isArray(row) || row.length === 0) throw new Error(`${file}: row ${r} is not a non-empty array of token ids`);
    row.forEach((id, k) => {
      if (!(Number.isInteger(id) && id >= 0)) throw new Error(`${file}: row ${r}, position ${k}: ${JSON.stringify(id)} is not a token id`);
    });
  });
  return rows as number[][];
}
