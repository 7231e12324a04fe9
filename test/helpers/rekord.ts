import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

/** A valid hashedrekord v0.0.1 proposal over random data, signed by a fresh key (bare public key form). */
export function hashedRekordProposal(data: Buffer = randomBytes(32)): { proposal: object; digestHex: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const digest = createHash('sha256').update(data).digest();
  const signature = sign('sha256', data, privateKey);
  const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  return {
    digestHex: digest.toString('hex'),
    proposal: {
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        signature: { content: signature.toString('base64'), publicKey: { content: Buffer.from(pem).toString('base64') } },
        data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
      },
    },
  };
}
