import { constants } from 'node:os';
import type { Command } from 'commander';

/**
 * `sigstack log backup` and `sigstack log restore`, added to the `log` command group. The work is in
 * services/backup.ts, imported only when one of them runs.
 */
export function registerBackupCommands(log: Command): void {
  log
    .command('backup')
    .description('copy a data folder (every log database, frozen Rekor trees included, keys, CA files, meta) into one archive file, consistently, even while the server runs')
    .requiredOption('--data-dir <dir>', 'the data folder of the log (or whole stack)')
    .requiredOption('--to <file>', 'the archive file to write (mode 0600: it holds the private keys); its folder must exist, outside the data folder')
    .option('--force', 'replace --to if it is an existing file (never a folder)')
    .addHelpText('after', `
Exit codes: 0 written, 1 the backup failed (nothing is left behind), 2 bad usage (--to is a folder, is in the data
folder, exists without --force, or its folder does not exist), 130/143 interrupted (SIGINT/SIGTERM; nothing is left
behind). Work folders left by runs killed outright (.sigstack-backup-*) are removed by the next run beside them.`)
    .action(async (opts: { dataDir: string; to: string; force?: boolean }) => {
      const { backupDataDir, checkBackupTarget, BackupTargetError } = await import('../../services/backup.ts');
      const t0 = performance.now();
      let manifest;
      try {
        checkBackupTarget(opts.to, opts.force, opts.dataDir); // before any work: a wrong target is a usage error
        manifest = await interruptible('backup', (signal) => backupDataDir(opts.dataDir, opts.to, progressPrinter(), { overwrite: opts.force, signal }));
      } catch (err) {
        clearProgress();
        if (!(err instanceof BackupTargetError)) throw err;
        return usage('backup', err.message);
      }
      clearProgress();
      const bytes = manifest.files.reduce((n, f) => n + f.size, 0);
      const sizes = Object.entries(manifest.checkpoints).map(([name, note]) => `${name} ${note.split('\n')[1]} entries`).join(', ');
      process.stderr.write(`Backed up ${opts.dataDir} to ${opts.to}: ${manifest.files.length} files, ${bytes} bytes, ${sizes}, in ${Math.round(performance.now() - t0)} ms\n`);
    });
  log
    .command('restore')
    .description('restore an archive made by `log backup` into a new data folder, refusing it unless each log matches its signed checkpoint')
    .requiredOption('--from <file>', 'the archive')
    .requiredOption('--data-dir <dir>', 'the folder to create (must not exist or be empty; its parent folders are made)')
    .addHelpText('after', `
Exit codes: 0 restored, 1 the restore failed (a damaged archive, or a log that does not match its signed checkpoint;
nothing is left behind), 2 bad usage (--from missing, a folder or not a backup; --data-dir a file or not empty),
130/143 interrupted (SIGINT/SIGTERM; nothing is left behind).`)
    .action(async (opts: { from: string; dataDir: string }) => {
      const { restoreDataDir, BackupTargetError } = await import('../../services/backup.ts');
      let sizes;
      try {
        sizes = await interruptible('restore', (signal) => restoreDataDir(opts.from, opts.dataDir, progressPrinter(), { signal }));
      } catch (err) {
        clearProgress();
        if (!(err instanceof BackupTargetError)) throw err;
        return usage('restore', err.message);
      }
      clearProgress();
      const trees = Object.entries(sizes).map(([name, n]) => `${name} ${n} entries`).join(', ');
      process.stderr.write(`Restored ${opts.from} into ${opts.dataDir}: ${trees}, each matching its signed checkpoint\n`);
    });
}

function usage(command: string, message: string): void {
  process.stderr.write(`Error: ${message}\nRun "sigstack log ${command} --help" for usage.\n`);
  process.exitCode = 2;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs `work` so that Ctrl-C (or SIGTERM, or the terminal closing) stops it cleanly: the signal aborts it, its own
 * cleanup removes the work folder and the half-written archive (hundreds of MB, and private keys), and then the
 * process dies of that same signal, so a shell or a supervisor sees an interrupted run (exit 130, 143...).
 */
async function interruptible<T>(what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    received ??= signal;
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  try {
    return await work(controller.signal);
  } catch (err) {
    if (!received) throw err;
    clearProgress();
    process.stderr.write(`Interrupted (${received}): the ${what} was stopped and its work files removed\n`);
    for (const s of SIGNALS) process.off(s, onSignal);
    process.exitCode = 128 + constants.signals[received];
    process.kill(process.pid, received); // the default action now: the process ends here
    return new Promise<never>(() => undefined);
  } finally {
    for (const s of SIGNALS) process.off(s, onSignal);
  }
}

/** Progress on one rewritten line, only when stderr is a terminal (never in logs or pipes). */
function progressPrinter(): (p: { step: string; done: number; total: number }) => void {
  let last = 0;
  return (p) => {
    if (!process.stderr.isTTY) return;
    const now = performance.now();
    if (now - last < 100 && p.done < p.total) return;
    last = now;
    const pct = p.total ? Math.floor((100 * p.done) / p.total) : 100;
    process.stderr.write(`\r${p.step.padEnd(14)} ${String(pct).padStart(3)}%`);
  };
}

function clearProgress(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
}
