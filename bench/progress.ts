/** @module A one-line progress bar, drawn only when the output is a terminal (never into logs or files). */

export interface Progress {
  /** `fraction` of the whole bench done, 0-1, and what runs now. */
  update(fraction: number, label: string): void;
  /** A line that should stay (the bar is redrawn below it). */
  log(line: string): void;
  done(): void;
}

export function createProgress(stream: NodeJS.WriteStream, enabled = stream.isTTY === true): Progress {
  const width = 28;
  let shown = false;
  const clear = () => {
    if (shown) stream.write('\r\x1b[2K');
    shown = false;
  };
  return {
    update(fraction, label) {
      if (!enabled) return;
      const clamped = Math.min(1, Math.max(0, fraction));
      const filled = Math.round(clamped * width);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
      const columns = stream.columns ?? 100;
      const line = `${bar} ${String(Math.round(clamped * 100)).padStart(3)}%  ${label}`;
      stream.write(`\r\x1b[2K${line.slice(0, columns - 1)}`);
      shown = true;
    },
    log(line) {
      clear();
      stream.write(`${line}\n`);
    },
    done() {
      clear();
    },
  };
}

/** For runs whose output is not a terminal (tests, the matrix's inner runs): logs only. */
export function silentProgress(log: (line: string) => void = () => {}): Progress {
  return { update() {}, log, done() {} };
}
