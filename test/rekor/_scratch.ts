import crypto from 'node:crypto';
import { AsnConvert, AsnProp, AsnPropTypes, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { p256, p384, p521 } from '@noble/curves/nist';
import { eddsa } from '@noble/curves/abstract/edwards';
import { ed25519 } from '@noble/curves/ed25519';

class DigestInfo {
  @AsnProp({ type: AlgorithmIdentifier }) digestAlgorithm = new AlgorithmIdentifier();
  @AsnProp({ type: OctetString }) digest = new OctetString();
}
const di = new DigestInfo();
di.digestAlgorithm = new AlgorithmIdentifier({ algorithm: '2.16.840.1.101.3.4.2.1', parameters: null });
di.digest = new OctetString(new Uint8Array(32).fill(7));
console.log(Buffer.from(AsnConvert.serialize(di)).toString('hex'));

const data = Buffer.from('hello');
const digest = crypto.createHash('sha256').update(data).digest();
const r = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const rs = crypto.sign('sha256', data, r.privateKey);
const dec = crypto.publicDecrypt({ key: r.publicKey, padding: crypto.constants.RSA_PKCS1_PADDING }, rs);
console.log(dec.toString('hex'));

const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
let ok = 0;
for (let i = 0; i < 20; i++) {
  const sig = crypto.sign('sha256', data, privateKey);
  const jwk = publicKey.export({ format: 'jwk' });
  const raw = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  if (p256.verify(sig, digest, raw, { prehash: false, lowS: false, format: 'der' } as any)) ok++;
}
console.log('p256 ok', ok);
const e = crypto.generateKeyPairSync('ed25519');
console.log(e.publicKey.export({format:'jwk'}));
