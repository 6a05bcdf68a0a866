/**
 * A tiny dependency-free progress bar for command-line work, written to stderr.
 * On a TTY it redraws one line; otherwise (logs, CI) it prints a plain line now and then
 * (every 10% or every 30 s, whichever comes first) and one at the end.
 */

export interface ProgressBar {
  /** Advances by `n` (default 1); `message` replaces the text shown after the bar. */
  tick(n?: number, message?: string): void;
  /** Sets the absolute position (0..total); `message` as for `tick`. */
  update(value: number, message?: string): void;
  /** Finishes the bar (prints the final state and a newline). Idempotent. */
  done(message?: string): void;
}

export interface ProgressBarOptions {
  stream?: NodeJS.WriteStream | { isTTY?: boolean; columns?: number; write(s: string): boolean };
  /** Minimum milliseconds between two TTY redraws. */
  redrawMs?: number;
}

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

export function createProgressBar(label: string, total: number, options: ProgressBarOptions = {}): ProgressBar {
  const stream = options.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  const redrawMs = options.redrawMs ?? 100;
  const start = Date.now();
  let current = 0;
  let text = "";
  let finished = false;
  let lastDraw = 0;
  let lastPlain = start;
  let lastPlainFraction = 0;

  const line = () => {
    const fraction = total > 0 ? Math.min(1, current / total) : 1;
    const elapsed = Date.now() - start;
    const eta = current > 0 && current < total ? (elapsed / current) * (total - current) : 0;
    const pct = `${Math.floor(fraction * 100)}`.padStart(3);
    const timing = current < total ? `${formatDuration(elapsed)} eta ${formatDuration(eta)}` : formatDuration(elapsed);
    return { fraction, head: `${label} `, tail: ` ${pct}% ${current}/${total} ${timing}${text ? ` ${text}` : ""}` };
  };

  const drawTty = () => {
    const { fraction, head, tail } = line();
    const columns = ("columns" in stream && stream.columns) || 80;
    const width = Math.max(10, Math.min(30, columns - head.length - tail.length - 3));
    const filled = Math.round(fraction * width);
    const bar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
    stream.write(`\r${(head + bar + tail).slice(0, columns - 1)}\x1b[K`);
  };

  const drawPlain = () => {
    const { head, tail } = line();
    stream.write(`${head.trimEnd()}${tail}\n`);
  };

  const bar: ProgressBar = {
    tick(n = 1, message?: string) {
      bar.update(current + n, message);
    },
    update(value: number, message?: string) {
      if (finished) return;
      current = Math.max(0, value);
      if (message !== undefined) text = message;
      const now = Date.now();
      if (tty) {
        if (now - lastDraw >= redrawMs || current >= total) {
          lastDraw = now;
          drawTty();
        }
      } else {
        const fraction = total > 0 ? current / total : 1;
        if (fraction - lastPlainFraction >= 0.1 || now - lastPlain >= 30_000) {
          lastPlain = now;
          lastPlainFraction = fraction;
          drawPlain();
        }
      }
    },
    done(message?: string) {
      if (finished) return;
      finished = true;
      if (message !== undefined) text = message;
      if (tty) {
        drawTty();
        stream.write("\n");
      } else drawPlain();
    },
  };
  return bar;
}
