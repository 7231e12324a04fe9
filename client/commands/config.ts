import { join } from 'node:path';
import type { Command } from 'commander';

/** `sigstack config check FILE`: validates a configuration file (and the SIGSTACK_* overrides) as `serve` would. */
export function register(program: Command): void {
  const config = program.command('config').description('work with the sigstack configuration file');
  config
    .command('check')
    .description('validate a YAML configuration file, with the SIGSTACK_* environment overrides applied, as `serve --config` would')
    .argument('<file>', 'the YAML configuration file')
    .option('--no-env', 'ignore SIGSTACK_* environment variables')
    .addHelpText('after', '\nExit codes: 0 valid, 1 invalid (the message names the key and where it came from), 2 bad usage.')
    .action(async (file: string, options: { env: boolean }) => {
      const { loadConfigLayers } = await import('../../services/config-file.ts');
      const { parseServeConfig, publicUrlFor, settingName } = await import('../../services/config.ts');
      const { checkHost } = await import('../../services/config-values.ts');
      const { parseCaIssuers } = await import('../../services/issuer-config.ts');
      const { checkKeyPassphrase } = await import('../../services/keys.ts');
      const { CA_INTERMEDIATE_KEY } = await import('../../services/data-folder.ts');
      const env = options.env ? process.env : {};
      const layers = loadConfigLayers({ file, env: { ...env, SIGSTACK_CONFIG: undefined } });
      // The checks `serve` makes on its settings before it binds a port or locks the data folder, the same functions
      // (services/app.ts): parsing, the bind address resolving, the issuer file with the dev issuers, the CA passphrase.
      const cfg = parseServeConfig(layers.service ?? 'all', layers.raw);
      await checkHost(settingName(cfg.sources, 'host'), cfg.host);
      const ca = cfg.services !== 'log';
      const publicUrl = publicUrlFor(cfg, cfg.port);
      // the issuer file with the dev issuers, as the CA takes it; the summary counts the file's own issuers
      const merged = ca ? parseCaIssuers({ ...cfg, publicUrl }) : undefined;
      const issuers = cfg.oidcConfig && cfg.devOidc ? parseCaIssuers({ ...cfg, publicUrl, devOidc: false }) : merged;
      // (with --no-env there is no passphrase variable to check)
      if (ca && options.env) checkKeyPassphrase(join(cfg.dataDir, CA_INTERMEDIATE_KEY));
      const lines = [
        `${layers.file}: valid`,
        `  service      ${cfg.services}`,
        `  listen       ${cfg.tls ? 'https' : 'http'}://${cfg.host}:${cfg.port}`,
        `  data-dir     ${cfg.dataDir}`,
        `  public-url   ${cfg.publicUrl ?? '(from host and port)'}`,
        `  oidc-config  ${cfg.oidcConfig ? `${cfg.oidcConfig.path} (${issuers!.issuers.size} issuers, ${issuers!.metaIssuers.length} meta issuers)` : '(none)'}`,
        `  dev-oidc     ${cfg.devOidc}`,
        ...(cfg.logUrl ? [`  log-url      ${cfg.logUrl}`] : []),
        ...(cfg.caUrl ? [`  ca-url       ${cfg.caUrl}`] : []),
        `  body-limit   ${cfg.bodyLimit} bytes`,
        `  rate-limit   ${cfg.rateLimit.ratePerSecond ? `${cfg.rateLimit.ratePerSecond}/s per client, burst ${cfg.rateLimit.burst}` : 'off'}`,
        `  log-level    ${cfg.logLevel}`,
      ];
      const overridden = Object.entries(layers.raw.sources ?? {}).filter(([, s]) => s.startsWith('SIGSTACK_')).map(([, s]) => s);
      if (overridden.length) lines.push(`  overridden by the environment: ${overridden.join(', ')}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
