import { createHash, randomBytes } from 'node:crypto';
import { derToPem } from '../../core/pem.ts';
import { generateSigner, type Signer } from '../../core/signer.ts';
import { openMerkleLog, type IndexedMerkleLog } from '../../log/merkle-log.ts';
import { rekorIndexKeys } from '../../log/kinds/index-keys.ts';
import { rekorRouter } from '../../log/rekor/routes.ts';
import { serveRouters } from '../helpers/http.ts';

/** A Rekor face over a file-backed engine with its search index, as services/log-service.ts opens it. */
/** A Rekor over the database at `path`; pass the previous `signer` to restart the same log with the same key. */
export async function startIndexedRekor(path: string, signer: Signer = generateSigner()) {
  const log = openMerkleLog({ path, indexKeys: rekorIndexKeys });
  const server = await serveRouters(rekorRouter({ log, signer, treeId: '42', signerName: '127.0.0.1' }));
  return { url: server.url, log: log as IndexedMerkleLog, signer, close: async () => { await server.close(); await log.close(); } };
}

/** A hashedrekord proposal by `signer` over random data; with `certDer` the key is given as that certificate. */
export function proposal(signer: Signer, certDer?: Buffer, data = randomBytes(32)) {
  const digest = createHash('sha256').update(data).digest('hex');
  const pem = certDer ? derToPem(certDer) : signer.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    digest,
    pem,
    body: {
      apiVersion: '0.0.1', kind: 'hashedrekord',
      spec: { signature: { content: signer.sign(data).toString('base64'), publicKey: { content: Buffer.from(pem).toString('base64') } }, data: { hash: { algorithm: 'sha256', value: digest } } },
    },
  };
}

export async function post(url: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}
