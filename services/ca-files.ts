import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCaHierarchy } from '../ca/hierarchy.ts';
import type { Signer } from '../core/signer.ts';
import { loadOrCreateKey, writeFileAtomic } from './keys.ts';
import { derToPem, pemToDerList } from '../core/pem.ts';

export function caCertPaths(dataDir: string): { dir: string; chain: string } {
  const dir = join(dataDir, 'ca');
  return { dir, chain: join(dir, 'chain.pem') };
}

/**
 * The CA's keys and chain: created on first start (root and intermediate keys 0600, chain.pem = intermediate
 * then root), loaded after. The running CA signs only with the intermediate.
 */
export function loadOrCreateCa(dataDir: string): { intermediate: Signer; chainDer: Buffer[]; created: boolean } {
  const paths = caCertPaths(dataDir);
  const intermediate = loadOrCreateKey(dataDir, 'ca-intermediate').signer;
  if (existsSync(paths.chain)) {
    const chainDer = pemToDerList(readFileSync(paths.chain, 'utf8'));
    if (chainDer.length < 2) throw new Error(`${paths.chain} must hold the intermediate and the root certificates`);
    return { intermediate, chainDer, created: false };
  }
  const root = loadOrCreateKey(dataDir, 'ca-root').signer;
  const { rootDer, intermediateDer } = createCaHierarchy({ rootSigner: root, intermediateSigner: intermediate });
  mkdirSync(paths.dir, { recursive: true });
  writeFileAtomic(paths.chain, derToPem(intermediateDer) + derToPem(rootDer));
  return { intermediate, chainDer: [intermediateDer, rootDer], created: true };
}
