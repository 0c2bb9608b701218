// Progress of a multi-step scenario on stderr (stdout stays for results): a cli-progress
// bar on a terminal, one plain line per step otherwise (not a TTY, or CI=true), so logs
// of CI runs and `| tee` read well.
import cliProgress from 'cli-progress';

export interface Progress {
  /** Step `label` begins (steps are counted up to the total). */
  step(label: string): void;
  /** A note under the current step (plain mode prints it; the bar shows it inline). */
  note(text: string): void;
  done(): void;
}

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Force plain lines (e.g. --json on a terminal still wants a quiet stdout, not this). */
  plain?: boolean;
  /** No output at all. */
  silent?: boolean;
}

export function createProgress(total: number, o: ProgressOptions = {}): Progress {
  const stream = o.stream ?? process.stderr;
  if (o.silent) return { step() {}, note() {}, done() {} };
  const plain = o.plain || !stream.isTTY || process.env.CI === 'true';
  if (plain) {
    let n = 0;
    const t0 = performance.now();
    const stamp = () => `${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s`;
    return {
      step(label) {
        n++;
        stream.write(`${stamp()} [${n}/${total}] ${label}\n`);
      },
      note(text) {
        stream.write(`${stamp()}         ${text}\n`);
      },
      done() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { stream, format: '{bar} {value}/{total} {step} {note}', hideCursor: true, clearOnComplete: false, barsize: 24 },
    cliProgress.Presets.shades_classic,
  );
  let n = 0;
  let label = '';
  bar.start(total, 0, { step: '', note: '' });
  return {
    step(l) {
      label = l;
      bar.update(n++, { step: label, note: '' });
    },
    note(text) {
      bar.update({ step: label, note: `— ${text}` });
    },
    done() {
      bar.update(total, { step: 'done', note: '' });
      bar.stop();
    },
  };
}
