import test from 'ava';
import { createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, Extensions, TBSCertificate } from '@peculiar/asn1-x509';
import { BadRequestError } from '../../core/errors.ts';
import { ENTRY_TYPE_PRECERT } from '../../core/sct.ts';
import { AcceptedRoots, IssuerPathCache, validateChain } from '../../log/ct/chain.ts';
import { parseCertificateStrict } from '../../log/ct/certificate.ts';
import { precertTbsWithoutPoison } from '../../log/ct/precert.ts';
import { makeIntermediate, makeLeaf, makeRoot, OID_CT_POISON, resign } from './test-pki.ts';

/**
 * The CT log remembers validated issuer paths (log/ct/chain.ts IssuerPathCache) and rebuilds the precertificate
 * TBS from the submitted bytes (log/ct/precert.ts). Neither may change what is accepted or what is logged.
 */

const root = makeRoot();
const intermediate = makeIntermediate(root);
const roots = new AcceptedRoots([root.der]);

function rejects(t: import('ava').ExecutionContext, f: () => unknown, message: RegExp): void {
  const err = t.throws(f, { instanceOf: BadRequestError });
  t.regex(err!.message, message);
}

test('a cached path does not accept another issuer with the same name, nor a leaf it did not sign', (t) => {
  const cache = new IssuerPathCache(roots);
  const v = validateChain([makeLeaf(intermediate), intermediate.der, root.der], roots, 'precert', cache);
  t.is(v.entry.type, ENTRY_TYPE_PRECERT);
  // Same DN as the cached intermediate, own key, signed by the same root: a different path, checked on its own.
  const twin = makeIntermediate(root, 'sigstack test intermediate');
  t.notThrows(() => validateChain([makeLeaf(twin), twin.der, root.der], roots, 'precert', cache));
  // A leaf signed by the twin but presented with the cached intermediate, and the reverse.
  rejects(t, () => validateChain([makeLeaf(twin), intermediate.der, root.der], roots, 'precert', cache), /chain\[0\] is not signed by chain\[1\]/);
  rejects(t, () => validateChain([makeLeaf(intermediate), twin.der, root.der], roots, 'precert', cache), /chain\[0\] is not signed by chain\[1\]/);
  // A same-name intermediate under a same-name root that is not ours: refused although both names match the cache.
  const impostorRoot = makeRoot('sigstack test root');
  const impostor = makeIntermediate(impostorRoot, 'sigstack test intermediate');
  rejects(t, () => validateChain([makeLeaf(impostor), impostor.der, impostorRoot.der], roots, 'precert', cache), /accepted root/);
  rejects(t, () => validateChain([makeLeaf(impostor), impostor.der], roots, 'precert', cache), /accepted root/);
  // The cached path, with its intermediate re-signed by another key (same bytes but the signature): refused.
  rejects(t, () => validateChain([makeLeaf(intermediate), resign(intermediate.der, impostorRoot.privateKey), root.der], roots, 'precert', cache), /not signed by/);
  // And the good path still works afterwards (failures are not cached; successes are).
  t.notThrows(() => validateChain([makeLeaf(intermediate), intermediate.der, root.der], roots, 'precert', cache));
});

test('with or without the cache, the same chains give the same entries and the same refusals', (t) => {
  const cache = new IssuerPathCache(roots);
  const leaf = makeLeaf(intermediate);
  for (const chain of [[leaf, intermediate.der, root.der], [leaf, intermediate.der]]) {
    t.deepEqual(validateChain(chain, roots, 'precert', cache), validateChain(chain, roots, 'precert'));
    t.deepEqual(validateChain(chain, roots, 'precert', cache), validateChain(chain, roots, 'precert'));
  }
  const notCa = makeLeaf(intermediate, { poison: false });
  for (const chain of [[leaf, notCa, intermediate.der], [leaf, intermediate.der, root.der, root.der], [leaf, root.der, root.der]]) {
    const plain = t.throws(() => validateChain(chain, roots, 'precert'), { instanceOf: BadRequestError });
    const cached = t.throws(() => validateChain(chain, roots, 'precert', cache), { instanceOf: BadRequestError });
    t.is(cached!.message, plain!.message);
  }
});

test('the precertificate TBS rebuilt from the submitted bytes equals re-encoding it without the poison', (t) => {
  for (const opts of [{}, { poisonOnly: true }, { poison: false }]) {
    const der = makeLeaf(intermediate, opts);
    const tbs = AsnConvert.parse(der, Certificate).tbsCertificate;
    const kept = (tbs.extensions ?? []).filter((e) => e.extnID !== OID_CT_POISON);
    const reference = Buffer.from(AsnConvert.serialize(new TBSCertificate({ ...tbs, extensions: kept.length > 0 ? new Extensions(kept) : undefined })));
    t.deepEqual(precertTbsWithoutPoison(parseCertificateStrict(der, 'leaf')), reference);
  }
});

test('the strict parse keeps exact field bytes: SPKI and TBS are the certificate\'s own', (t) => {
  const der = makeLeaf(intermediate);
  const parsed = parseCertificateStrict(der, 'leaf');
  const cert = AsnConvert.parse(der, Certificate);
  t.deepEqual(parsed.tbs, Buffer.from(cert.tbsCertificateRaw!));
  t.deepEqual(parsed.spki, Buffer.from(AsnConvert.serialize(cert.tbsCertificate.subjectPublicKeyInfo)));
  t.deepEqual(createHash('sha256').update(parsed.der).digest(), createHash('sha256').update(der).digest());
  // trailing bytes are still refused
  rejects(t, () => parseCertificateStrict(Buffer.concat([der, Buffer.from([0])]), 'leaf'), /strictly DER|not a DER/);
});
