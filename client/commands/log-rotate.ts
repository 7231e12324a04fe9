import { resolve } from 'node:path';
import type { Command } from 'commander';

/**
 * `sigstack log rotate`: freeze the active Rekor tree and start a new one with a new key, as Rekor shards its log.
 * Offline: it refuses while a server has the data folder's databases open. The work is in services/log-rotation.ts.
 */
export function registerRotateCommand(log: Command): void {
  log
    .command('rotate')
    .description('freeze the active Rekor tree (kept, read-only, with its key) and start a new tree with a new key; the server must be stopped')
    .option('--data-dir <dir>', 'the data folder of `sigstack serve`', './data')
    .option('--allow-empty', 'rotate even when the active tree has no entries (to replace its key before first use)', false)
    .addHelpText('after', `
Entries keep their global log index; the frozen tree stays readable through the same Rekor API (its entries, by
index or UUID, with its own key and final checkpoint). Bundles made before the rotation still verify with the new
trusted_root.json, which lists both keys, the old one valid until the rotation. The CT log is not rotated.
Back up the data folder first (sigstack log backup).`)
    .action(async (opts: { dataDir: string; allowEmpty: boolean }) => {
      const { rotateRekorLog, RotationError } = await import('../../services/log-rotation.ts');
      try {
        const r = await rotateRekorLog(resolve(opts.dataDir), { allowEmpty: opts.allowEmpty });
        process.stdout.write(
          `Froze Rekor tree ${r.old.treeId}: ${r.old.treeSize} entries, root ${r.old.rootHash}, key ${r.old.keyId} valid ${r.old.start} .. ${r.old.end}\n` +
          `New active tree ${r.new.treeId}: key ${r.new.keyId} valid from ${r.new.start}; its first entry will be global log index ${r.new.firstIndex}\n`,
        );
        process.stderr.write(
          'Start the server again, then hand verifiers the new trusted_root.json (sigstack trusted-root --data-dir ' +
          `${opts.dataDir} --out trusted_root.json): it lists the new key and keeps the old one with its end time.\n`,
        );
      } catch (err) {
        if (!(err instanceof RotationError)) throw err;
        process.stderr.write(`Rotation refused: ${err.message}\n`);
        process.exitCode = 1;
      }
    });
}
