/**
 * A real registry for the tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1 at an ephemeral port,
 * storage in a temporary folder, config written here. Optionally with token auth (`auth.token`), whose
 * tokens come from an in-test token service that demands basic credentials: the registry itself checks the
 * JWT signature against the certificate we give it, so bearer auth is exercised end to end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { SignJWT, importPKCS8 } from 'jose';
import { OCI_MANIFEST, RegistryClient } from '../../client/oci/registry.ts';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface TestRegistry {
  host: string;
  /** Requests the token service saw, with whether their basic credentials were right. */
  tokenRequests: { scope: string; authorized: boolean }[];
  close(): Promise<void>;
}

async function startTokenService(user: string, password: string, log: TestRegistry['tokenRequests']) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = {
    privateKey: await webcrypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), alg, true, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', publicKey.export({ type: 'spki', format: 'der' }), alg, true, ['verify']),
  };
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=test token issuer', notBefore: new Date(Date.now() - 3600_000), notAfter: new Date(Date.now() + 86400_000),
    signingAlgorithm: alg, keys: keys as CryptoKeyPair,
  });
  const signingKey = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'ES256');
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scope = url.searchParams.get('scope') ?? '';
    const authorized = req.headers.authorization === expected;
    log.push({ scope, authorized });
    if (!authorized) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"details":"bad credentials"}');
      return;
    }
    const [, name, actions] = /^repository:(.+):([a-z,]+)$/.exec(scope) ?? [];
    const now = Math.floor(Date.now() / 1000);
    void new SignJWT({ access: name ? [{ type: 'repository', name, actions: actions!.split(',') }] : [] })
      .setProtectedHeader({ alg: 'ES256', x5c: [Buffer.from(cert.rawData).toString('base64')] })
      .setIssuer('test-token-issuer').setAudience('test-registry').setSubject(user)
      .setIssuedAt(now - 60).setNotBefore(now - 60).setExpirationTime(now + 600).setJti(randomBytes(8).toString('hex'))
      .sign(signingKey)
      .then((token) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ token }));
      });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, certPem: cert.toString('pem'), server };
}

export async function startRegistry(opts: { auth?: { user: string; password: string } } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'sigstack-registry-'));
  const tokenRequests: TestRegistry['tokenRequests'] = [];
  let tokenService: Awaited<ReturnType<typeof startTokenService>> | undefined;
  let auth = '';
  if (opts.auth) {
    tokenService = await startTokenService(opts.auth.user, opts.auth.password, tokenRequests);
    writeFileSync(join(dir, 'token-ca.pem'), tokenService.certPem);
    auth = `auth:\n  token:\n    realm: ${tokenService.url}\n    service: test-registry\n    issuer: test-token-issuer\n    rootcertbundle: ${join(dir, 'token-ca.pem')}\n`;
  }
  writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n  secret: ${randomBytes(16).toString('hex')}\n${auth}`);
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const host = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`docker-registry exited with ${code}: ${out.slice(-2000)}`)));
  });
  return {
    host,
    tokenRequests,
    close: async () => {
      child.kill('SIGTERM');
      tokenService?.server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Pushes a small random single-layer image with our client; returns its manifest digest. */
export async function pushRandomImage(client: RegistryClient, repo: string, tag: string): Promise<string> {
  const layer = randomBytes(256);
  const layerDigest = await client.pushBlob(repo, layer);
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(layer).digest('hex')}`] }, config: {},
  }));
  const configDigest = await client.pushBlob(repo, config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: configDigest },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', size: layer.length, digest: layerDigest }],
  }));
  return client.putManifest(repo, tag, manifest, OCI_MANIFEST);
}

/** Pushes a small random image with skopeo (a client nobody here wrote) from an OCI layout folder it reads. */
export async function pushWithSkopeo(host: string, repo: string, tag: string): Promise<void> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { mkdirSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'sigstack-oci-layout-'));
  try {
    const blobs = join(dir, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const put = (bytes: Buffer) => {
      const hex = createHash('sha256').update(bytes).digest('hex');
      writeFileSync(join(blobs, hex), bytes);
      return { digest: `sha256:${hex}`, size: bytes.length };
    };
    const layer = randomBytes(128);
    const l = put(layer);
    const c = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [l.digest] }, config: {} })));
    const m = put(Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...c },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l }],
    })));
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, ...m, annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
    await promisify(execFile)('skopeo', ['copy', '--dest-tls-verify=false', `oci:${dir}:${tag}`, `docker://${host}/${repo}:${tag}`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
