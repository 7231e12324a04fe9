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
    .requiredOption('--to <file>', 'the archive file to write (mode 0600: it holds the private keys); its folder must exist')
    .option('--force', 'replace --to if it is an existing file (never a folder)')
    .addHelpText('after', '\nExit codes: 0 written, 1 the backup failed (nothing is left behind), 2 bad usage (--to is a folder, exists without --force, or its folder does not exist).')
    .action(async (opts: { dataDir: string; to: string; force?: boolean }) => {
      const { backupDataDir, checkBackupTarget, BackupTargetError } = await import('../../services/backup.ts');
      const t0 = performance.now();
      let manifest;
      try {
        checkBackupTarget(opts.to, opts.force); // before any work: a wrong target is a usage error
        manifest = await backupDataDir(opts.dataDir, opts.to, progressPrinter(), { overwrite: opts.force });
      } catch (err) {
        clearProgress();
        if (!(err instanceof BackupTargetError)) throw err;
        process.stderr.write(`Error: ${err.message}\nRun "sigstack log backup --help" for usage.\n`);
        process.exitCode = 2;
        return;
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
    .requiredOption('--data-dir <dir>', 'the folder to create (must not exist or be empty)')
    .action(async (opts: { from: string; dataDir: string }) => {
      const { restoreDataDir } = await import('../../services/backup.ts');
      const sizes = await restoreDataDir(opts.from, opts.dataDir, progressPrinter());
      clearProgress();
      const trees = Object.entries(sizes).map(([name, n]) => `${name} ${n} entries`).join(', ');
      process.stderr.write(`Restored ${opts.from} into ${opts.dataDir}: ${trees}, each matching its signed checkpoint\n`);
    });
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
