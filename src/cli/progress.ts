// Progress on stderr: a live bar on a terminal, a plain line per step otherwise (CI logs).
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total: number, what: string): void;
  stop(): void;
}

export function progress(label: string, quiet = false): Progress {
  if (quiet) return { update() {}, stop() {} };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% {value}/{total} {what} | {duration_formatted}`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total, what) {
        if (!started) {
          bar.start(total, 0, { what });
          started = true;
        }
        bar.setTotal(total);
        bar.update(done, { what });
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = '';
  const t0 = Date.now();
  return {
    update(done, total, what) {
      const line = `${label}: ${done}/${total} ${what}`;
      if (line !== last) process.stderr.write(`${line} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
      last = line;
    },
    stop() {},
  };
}
