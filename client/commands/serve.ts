import type { Command } from 'commander';
import type { RawOptionName } from '../../services/config.ts';

/** `sigstack serve [all|ca|log]`: services are imported here, lazily, so other commands stay light. */
export function register(program: Command): void {
  // No commander defaults: a flag given must be told apart from one left out, which the environment
  // (SIGSTACK_*) or the configuration file may then set. Defaults live in services/config.ts.
  program
    .command('serve')
    .description('run the stack: the CA (Fulcio v2 API), the Rekor v1 API and the RFC 6962 CT log on one port, or one service alone')
    .argument('[service]', 'all | ca | log (default all, or `service:` in the configuration file); `serve admission` runs the webhook')
    .option('--config <file>', 'YAML configuration file (also SIGSTACK_CONFIG); flags > SIGSTACK_* variables > file > defaults')
    .option('--host <host>', 'address to bind (default 127.0.0.1)')
    .option('--port <port>', 'port to listen on (0 = any free port); default 3000, or 5555 for `serve ca`')
    .option('--data-dir <dir>', 'where keys, certificates and the log databases live, created on first start (default ./data)')
    .option('--public-url <url>', 'the URL clients use to reach this server (default http(s)://<host>:<port>); fixed into the log on first start')
    .option('--oidc-config <file>', "OIDC issuers in Fulcio's config format (JSON or YAML)")
    .option('--dev-oidc', 'also serve and trust a development OIDC issuer at /dev-oidc, for test harnesses (never in production)')
    .option('--log-url <url>', '`serve ca`: URL of the log service (its CT log issues the SCTs)')
    .option('--ca-url <url>', '`serve log`: URL of the CA service (its roots are the ones the CT log accepts)')
    .option('--body-limit <bytes>', 'largest request body accepted, answered 413 above (default 131072)')
    .option('--rate-limit <n>', 'requests per second per client address, answered 429 above (default 0: no limit)')
    .option('--rate-burst <n>', 'requests a client may send at once (default twice --rate-limit)')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate chain (with --tls-key)')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option('--log-level <level>', 'pino log level: fatal, error, warn, info, debug, trace, silent (default info)')
    .addHelpText('after', '\nExit codes: 0 stopped cleanly (SIGTERM, SIGINT), 1 could not start or shut down, 2 bad usage or settings.')
    .action(async (service: string | undefined, options: Record<string, string | boolean | undefined>) => {
      const { ConfigError, parseServeConfig } = await import('../../services/config.ts');
      const { loadConfigLayers } = await import('../../services/config-file.ts');
      const { startStack } = await import('../../services/app.ts');
      const t0 = performance.now();
      const { config, ...flags } = options;
      let layers;
      let cfg;
      let stack;
      try {
        layers = loadConfigLayers({ file: config as string | undefined, flags: flags as Partial<Record<RawOptionName, string | boolean>>, service });
        cfg = parseServeConfig(layers.service ?? 'all', layers.raw);
        stack = await startStack(cfg);
      } catch (err) {
        // A setting given wrong (flag, SIGSTACK_* variable, file, CA passphrase variable) is a usage error, exit 2,
        // whether parsing finds it or the start does (a bind address that does not resolve, the port taken, an issuer
        // file the CA refuses). Anything else that stops the start (a damaged data folder) is exit 1, from the top.
        if (!(err instanceof ConfigError)) throw err;
        process.stderr.write(`Error: ${err.message}\nRun "sigstack serve --help" for usage.\n`);
        process.exitCode = 2;
        return;
      }
      const ms = Math.round(performance.now() - t0);
      const lines = Object.entries(stack.endpoints).map(([name, url]) => `  ${name.padEnd(28)} ${url}`);
      const warning = cfg.devOidc
        ? `WARNING: the dev OIDC issuer is on: anyone who can reach ${stack.url} can get a certificate for any identity.\n` +
          `         Give --oidc-config with your issuers for real use.\n`
        : cfg.services !== 'log' && !cfg.oidcConfig
          ? 'WARNING: the CA trusts no OIDC issuer, so it will refuse every signing request: give --oidc-config FILE (or --dev-oidc for a test harness).\n'
          : '';
      const from = layers.file ? `, settings from ${layers.file}` : '';
      // one write, warning first: whoever waits for the ready line has seen everything before it
      process.stderr.write(`${warning}sigstack ${cfg.services} ready at ${stack.url} in ${ms} ms (data in ${cfg.dataDir}${from})\n${lines.join('\n')}\n`);
      const stop = (signal: string) => {
        process.stderr.write(`${signal}: finishing in-flight requests and closing the log...\n`);
        stack.close().then(() => {
          process.stderr.write('closed cleanly\n');
          process.exit(0);
        }, (err: unknown) => {
          process.stderr.write(`shutdown failed: ${String(err)}\n`);
          process.exit(1);
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
