import { makeRoot, makeIntermediate, makeLeaf, finalCertificate } from './test-pki.ts';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { X509Certificate } from 'node:crypto';
const root = makeRoot(); const int = makeIntermediate(root); const leaf = makeLeaf(int);
for (const d of [root.der, int.der, leaf]) {
  const c = AsnConvert.parse(d, Certificate);
  console.log(Buffer.from(AsnConvert.serialize(c)).equals(d));
}
const trailing = Buffer.concat([leaf, Buffer.from([0])]);
try { const c = AsnConvert.parse(trailing, Certificate); console.log('parsed trailing', Buffer.from(AsnConvert.serialize(c)).length, trailing.length); } catch (e) { console.log('trail err', (e as Error).message); }
try { new X509Certificate(trailing); console.log('node accepts trailing'); } catch (e) { console.log('node rejects trailing', (e as Error).message); }
const f = finalCertificate(leaf, int, Buffer.from([0,0]));
const x = new X509Certificate(f); const ix = new X509Certificate(int.der); const rx = new X509Certificate(root.der);
console.log(x.verify(ix.publicKey), x.ca, ix.ca, ix.verify(rx.publicKey), rx.verify(rx.publicKey), ix.subject, ix.issuer, x.subject);
console.log(x.toString());
const t = AsnConvert.parse(leaf, Certificate).tbsCertificate; console.log(t.extensions?.map(e=>[e.extnID,e.critical, Buffer.from(e.extnValue.buffer).toString('hex')]));
