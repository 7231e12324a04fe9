import { InvalidArgumentError, type Command } from 'commander';
import { registerBackupCommands } from './log-backup.ts';
import { registerRotateCommand } from './log-rotate.ts';
import { serverUrlProblem } from './url-flags.ts';

/**
 * `sigstack log audit|fill|backup|restore|rotate`. The audit is in client/log-audit.ts, the fill in
 * client/log-fill.ts, imported only when they run.
 */
export { audit } from '../log-audit.ts';
export { fill } from '../log-fill.ts';

function positiveInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

function usage(command: string, message: string): void {
  process.stderr.write(`Error: ${message}\nRun "sigstack log ${command} --help" for usage.\n`);
  process.exitCode = 2;
}

export function register(program: Command): void {
  const logCommand = program.command('log').description('audit a transparency log, fill one for tests, back it up and restore it, rotate its key');
  logCommand.command('audit')
    .description('recompute the log from every entry, check it against its signed checkpoint and the one saved last time')
    .requiredOption('--url <url>', "the log's base URL, as `sigstack serve` prints it (not an /api/... path)")
    .option('--checkpoint <file>', 'checkpoint saved by the previous audit: checked for consistency, then replaced (created if missing)')
    .option('--trusted-root <file>', 'trusted_root.json holding the log key (else --public-key, else the log\'s own key)')
    .option('--public-key <file>', 'the log key, PEM')
    .option('--all-trees', 'also audit every tree frozen by `log rotate` against its final checkpoint')
    .addHelpText('after', `
Exit codes:
  0  audit OK (the checkpoint is saved)
  1  audit FAILED: the log does not match what it signed, or its history was rewritten (the message names the entry)
  2  bad usage: a wrong flag, an unreadable or invalid --checkpoint, --trusted-root or --public-key, or a URL that
     is not a Sigstack log's base URL
  3  the log could not be read (unreachable, timed out, answered an error status): try again
Nothing is saved unless the audit passed.`)
    .action(async (o: { url: string; checkpoint?: string; trustedRoot?: string; publicKey?: string; allTrees?: boolean }) => {
      // the checks of every client URL flag; a URL holding credentials too, which fetch would refuse to send
      const urlProblem = serverUrlProblem('--url', o.url);
      if (urlProblem) return usage('audit', urlProblem);
      const { audit, AuditFailure, AuditInputError, AuditUnavailable } = await import('../log-audit.ts');
      try {
        const r = await audit(o);
        const frozen = r.frozen.map((f) => `, frozen tree ${f.treeId}: ${f.size} entries`).join('');
        process.stdout.write(`Audit OK: ${r.size} entries, root ${r.root}${frozen}${o.checkpoint ? `, checkpoint saved to ${o.checkpoint}` : ''}\n`);
      } catch (e) {
        if (e instanceof AuditFailure) process.stderr.write(`Audit FAILED: ${e.message}\n`);
        else if (e instanceof AuditInputError) return usage('audit', e.message);
        else if (e instanceof AuditUnavailable) process.stderr.write(`Error: could not audit: ${e.message}\n`);
        else {
          // not one of the three: a fault here, never "the log is bad" (1) nor OK
          process.stderr.write(`Error: could not audit: ${(e as Error)?.stack ?? String(e)}\n`);
          process.exitCode = 3;
          return;
        }
        process.exitCode = e.exitCode;
      }
    });
  logCommand.command('fill')
    .description('append N valid hashedrekord entries (tests and benchmarks)')
    .requiredOption('--url <url>', "the log's base URL, as `sigstack serve` prints it")
    .requiredOption('--count <n>', 'entries to append', positiveInt('--count'))
    .option('--concurrency <n>', 'requests in flight', positiveInt('--concurrency'), 16)
    .addHelpText('after', '\nEach request times out after 15 s. Exit codes: 0 all appended, 1 the log failed (the message says how many were appended), 2 bad usage.')
    .action(async (o: { url: string; count: number; concurrency: number }) => {
      const urlProblem = serverUrlProblem('--url', o.url);
      if (urlProblem) return usage('fill', urlProblem);
      const { fill, FillError } = await import('../log-fill.ts');
      try {
        const r = await fill(o);
        process.stdout.write(`Appended ${r.created} entries in ${r.seconds.toFixed(1)} s (${Math.round(r.created / r.seconds)} entries/s)\n`);
      } catch (e) {
        if (!(e instanceof FillError)) throw e;
        if (e.usage) return usage('fill', e.message);
        process.stderr.write(`Error: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
  registerBackupCommands(logCommand);
  registerRotateCommand(logCommand);
}
