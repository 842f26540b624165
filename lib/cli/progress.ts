/**
 * Progress bars on stderr for long CLI work, one bar per stage (a new bar starts when the stage
 * changes; the finished one stays on screen). Silent when stderr is not a terminal.
 */
import cliProgress from 'cli-progress';

export interface StageBars {
  /** Shows `done` of `total` for `stage` (started on first use), with a short detail text. */
  update(stage: string, done: number, total: number, detail?: string): void;
  /** Finishes the current bar. */
  stop(): void;
}

export function stageBars(enabled = process.stderr.isTTY === true): StageBars {
  let bar: cliProgress.SingleBar | undefined;
  let current: string | undefined;
  const stop = () => {
    bar?.stop();
    bar = undefined;
    current = undefined;
  };
  return {
    update(stage, done, total, detail = '') {
      if (!enabled) return;
      if (stage !== current) {
        stop();
        current = stage;
        bar = new cliProgress.SingleBar(
          {
            format: `${stage.padEnd(16)} {bar} {value}/{total}  {duration_formatted}  {detail}`,
            barsize: 30,
            hideCursor: true,
            stream: process.stderr,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done, { detail });
      } else {
        bar!.setTotal(total);
        bar!.update(done, { detail });
      }
    },
    stop,
  };
}
