import type { Command } from 'commander';
import type { ServiceSet } from '../../services/config.ts';

/** `sigstack serve [all|ca|log]`: services are imported here, lazily, so other commands stay light. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('run the stack: the CA (Fulcio v2 API), the Rekor v1 API and the RFC 6962 CT log on one port, or one service alone')
    .argument('[service]', 'all | ca | log', 'all')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port); default 3000, or 5555 for `serve ca`')
    .option('--data-dir <dir>', 'where keys, certificates and the log databases live (created on first start)', './data')
    .option('--public-url <url>', 'the URL clients use to reach this server (default http://<host>:<port>); fixed into the log on first start')
    .option('--oidc-config <file>', "OIDC issuers in Fulcio's config format (JSON or YAML)")
    .option('--dev-oidc', 'also serve and trust a development OIDC issuer at /dev-oidc, for test harnesses (never in production)')
    .option('--log-url <url>', '`serve ca`: URL of the log service (its CT log issues the SCTs)')
    .option('--ca-url <url>', '`serve log`: URL of the CA service (its roots are the ones the CT log accepts)')
    .option('--body-limit <bytes>', 'largest request body accepted', String(128 * 1024))
    .option('--log-level <level>', 'pino log level (also SIGSTACK_LOG_LEVEL)')
    .action(async (service: string, options: Record<string, string | boolean | undefined>) => {
      if (!['all', 'ca', 'log'].includes(service)) throw new Error(`unknown service "${service}": use all, ca or log`);
      const { parseServeConfig } = await import('../../services/config.ts');
      const { startStack } = await import('../../services/app.ts');
      const t0 = performance.now();
      const cfg = parseServeConfig(service as ServiceSet, options as never);
      const stack = await startStack(cfg);
      const ms = Math.round(performance.now() - t0);
      const lines = Object.entries(stack.endpoints).map(([name, url]) => `  ${name.padEnd(28)} ${url}`);
      const warning = cfg.devOidc
        ? `WARNING: the dev OIDC issuer is on: anyone who can reach ${stack.url} can get a certificate for any identity.\n` +
          `         Give --oidc-config with your issuers for real use.\n`
        : cfg.services !== 'log' && !cfg.oidcConfig
          ? 'WARNING: the CA trusts no OIDC issuer, so it will refuse every signing request: give --oidc-config FILE (or --dev-oidc for a test harness).\n'
          : '';
      // one write, warning first: whoever waits for the ready line has seen everything before it
      process.stderr.write(`${warning}sigstack ${service} ready at ${stack.url} in ${ms} ms (data in ${cfg.dataDir})\n${lines.join('\n')}\n`);
      const stop = (signal: string) => {
        process.stderr.write(`${signal}: finishing in-flight requests and closing the log...\n`);
        stack.close().then(() => process.exit(0), (err: unknown) => {
          process.stderr.write(`shutdown failed: ${String(err)}\n`);
          process.exit(1);
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
