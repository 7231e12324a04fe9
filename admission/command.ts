import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Limiter } from './limiter.ts';
import { cachedCredentials } from './registry-credentials.ts';
import { VerdictCache } from './verdict-cache.ts';

function usage(message: string): never {
  process.stderr.write(`Error: ${message}\nRun "sigstack serve-admission --help" for usage.\n`);
  process.exit(2);
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    usage(`cannot read the ${what} ${path}: ${(e as Error).message}`);
  }
}

/** As `serve --port`: a whole number in 0..65535 (0 = any free port), never Node's raw range error or NaN. */
export function parsePort(value: string): number {
  if (!/^\d+$/.test(value)) usage(`--port: "${value}" is not a whole number`);
  const n = Number(value);
  if (n > 65535) usage(`--port: ${n} is outside 0..65535`);
  return n;
}

interface AdmissionCliOptions {
  tlsCert: string;
  tlsKey: string;
  policy: string;
  trustedRoot: string;
  host: string;
  port: string;
  mutate?: boolean;
  cacheSize: string;
  cacheTtl: string;
  deadline: string;
  concurrentImages: string;
  allowInsecureRegistry?: boolean;
}

/** `sigstack serve-admission`: the Kubernetes admission webhook (validating, and mutating with --mutate). */
export function register(program: Command): void {
  program
    .command('serve-admission')
    .description('run the Kubernetes admission webhook that admits only verified images (offline verification)')
    .requiredOption('--tls-cert <file>', 'PEM certificate the API server will see (its CA goes in caBundle)')
    .requiredOption('--tls-key <file>', 'PEM private key of that certificate')
    .requiredOption('--policy <file>', 'policy file (YAML or JSON), see docs/images.md')
    .requiredOption('--trusted-root <file>', 'trusted_root.json of the deployment')
    .option('--host <host>', 'address to bind', '0.0.0.0')
    .option('--port <port>', 'port to listen on (0 = any free port)', '8443')
    .option('--mutate', 'also serve POST /mutate: pin every verified image tag to its digest with a JSON patch')
    .option('--cache-size <n>', 'verdicts kept (by digest and policy)', '10000')
    .option('--cache-ttl <seconds>', 'how long a verdict is kept', '300')
    .option('--deadline <seconds>', 'answer every review within this time, denying images not verified by then (keep it under the webhook\'s timeoutSeconds)', '8')
    .option('--concurrent-images <n>', 'images verified at once across all requests (bounds memory: a few MiB each)', '8')
    .option('--allow-insecure-registry', 'speak plain HTTP to registries')
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .addHelpText('after', '\nExit codes: 0 stopped cleanly (SIGTERM, SIGINT), 1 could not listen, 2 bad usage (flags, unreadable or invalid files).')
    .action(async (opts: AdmissionCliOptions) => {
      const port = parsePort(opts.port);
      const cert = read(opts.tlsCert, 'TLS certificate');
      const key = read(opts.tlsKey, 'TLS key');
      // checked as `serve` checks its own: OpenSSL would only say "no start line", naming no file
      if (!cert.includes('-----BEGIN CERTIFICATE-----')) usage(`--tls-cert ${opts.tlsCert} holds no PEM certificate`);
      if (!/-----BEGIN (EC |RSA |ENCRYPTED |)PRIVATE KEY-----/.test(key)) usage(`--tls-key ${opts.tlsKey} holds no PEM private key`);
      const { parsePolicy } = await import('./policy.ts');
      const { startAdmissionServer } = await import('./server.ts');
      const { createVerifier } = await import('../client/verify/index.ts');
      const { credentialsFromDockerConfig, loadDockerConfig } = await import('../client/oci/credentials.ts');
      let policy;
      let verifier;
      try {
        policy = parsePolicy(read(opts.policy, 'policy file'));
        verifier = createVerifier(read(opts.trustedRoot, 'trusted root'));
      } catch (e) {
        usage((e as Error).message);
      }
      const size = Number(opts.cacheSize);
      const ttl = Number(opts.cacheTtl);
      if (!Number.isSafeInteger(size) || size < 1 || !Number.isFinite(ttl) || ttl < 0) usage('--cache-size is a positive integer and --cache-ttl a number of seconds');
      const deadline = Number(opts.deadline);
      if (!/^\d+(\.\d+)?$/.test(opts.deadline) || !(deadline > 0) || deadline > 30) usage(`--deadline: "${opts.deadline}" is not a number of seconds in (0, 30] (the API server waits 30 s at most)`);
      if (!/^\d+$/.test(opts.concurrentImages) || Number(opts.concurrentImages) < 1 || Number(opts.concurrentImages) > 1024) usage(`--concurrent-images: "${opts.concurrentImages}" is not a whole number in 1..1024`);
      const dockerConfig = loadDockerConfig();
      const helpers = new Limiter(4);
      let server;
      try {
        server = await startAdmissionServer({
          cert, key, host: opts.host, port,
          policy, verifier, cache: new VerdictCache(size, ttl * 1000), mutate: Boolean(opts.mutate), insecureRegistries: opts.allowInsecureRegistry,
          deadlineMs: deadline * 1000, limiter: new Limiter(Number(opts.concurrentImages)),
          // at most 4 credential helper processes at once, whatever registry names the pods make up
          credentialsFor: cachedCredentials((registry) => helpers.run(() => credentialsFromDockerConfig(dockerConfig, registry))),
          onError: (e) => process.stderr.write(`admission: internal error: ${(e as Error)?.stack ?? String(e)}\n`),
        });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        // TLS material OpenSSL refuses (a key that is not the certificate's, an encrypted key): name the files
        if (String(err.code ?? '').startsWith('ERR_OSSL') || /routines::/.test(err.message)) usage(`--tls-cert ${opts.tlsCert} / --tls-key ${opts.tlsKey}: ${err.message}`);
        process.stderr.write(`Error: cannot listen on ${opts.host}:${port}: ${err.message}\n`);
        process.exit(1);
      }
      process.stderr.write(`sigstack admission webhook ready at ${server.url} (POST /validate${opts.mutate ? ', POST /mutate' : ''}; ${policy.rules.length} policy rules)\n`);
      const stop = () => void server.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}
