import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseServeConfig } from '../../services/config.ts';
import { startStack as startServices, type RunningStack } from '../../services/app.ts';
import { startOidcIssuer } from './oidc.ts';

export interface TestStack {
  url: string;
  dataDir: string;
  issuer: string;
  trustedRoot: Record<string, unknown>;
  signingConfig: Record<string, unknown>;
  /** A token from the in-test OIDC issuer; default claims give an email identity. */
  mintToken(claims?: Record<string, unknown>): Promise<string>;
  stack: RunningStack;
  close(): Promise<void>;
}

export const TEST_EMAIL = 'alice@example.com';

/**
 * The whole stack on one loopback port with a fresh data folder, trusting an OIDC issuer started inside the
 * test through a Fulcio-format issuer file (as an operator would configure it).
 */
export async function startStack(opts: {
  dataDir?: string;
  issuerType?: string;
  /** More fields of the test issuer's entry (e.g. SPIFFETrustDomain, CIProvider, IssuancePolicy). */
  issuerFields?: Record<string, unknown>;
  /** More top-level keys of the issuer file (e.g. CIIssuerMetadata). */
  issuerConfig?: Record<string, unknown>;
} = {}): Promise<TestStack> {
  const oidc = await startOidcIssuer();
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'sigstack-test-'));
  const configPath = join(dataDir, 'fulcio-config.json');
  writeFileSync(configPath, JSON.stringify({
    OIDCIssuers: { [oidc.issuer]: { IssuerURL: oidc.issuer, ClientID: 'sigstore', Type: opts.issuerType ?? 'email', ...opts.issuerFields } },
    ...opts.issuerConfig,
  }));
  const cfg = parseServeConfig('all', { port: '0', dataDir, oidcConfig: configPath });
  let stack: RunningStack;
  try {
    stack = await startServices(cfg, pino({ level: process.env.SIGSTACK_TEST_LOG ?? 'silent' }));
  } catch (err) {
    await oidc.close(); // a stack that refuses to start must not leave the issuer holding the process open
    throw err;
  }
  const get = async (path: string) => (await (await fetch(`${stack.url}${path}`)).json()) as Record<string, unknown>;
  return {
    url: stack.url,
    dataDir,
    issuer: oidc.issuer,
    trustedRoot: await get('/sigstack/v1/trusted_root.json'),
    signingConfig: await get('/sigstack/v1/signing_config.json'),
    mintToken: (claims = {}) => oidc.mint({ email: TEST_EMAIL, email_verified: true, sub: TEST_EMAIL, ...claims }),
    stack,
    close: async () => {
      await stack.close();
      await oidc.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
