/**
 * Who signed: the certificate's one subject alternative name (email, URI, or Fulcio's otherName username)
 * and OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8, falling back to the deprecated .1.1), matched
 * against the caller's policy. Both an identity and an issuer are required. A regular expression must match
 * the WHOLE value: it is anchored here, since an unanchored one (sigstore-js#1656, sigstore-go#558) lets
 * "alice@example.com" match "alice@example.com.attacker.net".
 */
import * as asn1js from 'asn1js';
import { id_ce_subjectAltName } from '@peculiar/asn1-x509';
import { VerificationError } from '../../core/errors.ts';
import { explicit, isContext, oid, parseDer, primitiveContents, sequence, utf8String, type Block } from './der.ts';
import type { CertificateIdentity, LeafState } from './leaf.ts';
import { memoizeByBytes } from './cache.ts';

const OID_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const OID_OTHERNAME_USERNAME = '1.3.6.1.4.1.57264.1.7';

export interface Policy {
  identity?: string;
  identityRegexp?: string;
  issuer?: string;
  issuerRegexp?: string;
}

export interface Matcher {
  test(value: string): boolean;
  describe: string;
}

function matcher(exact: string | undefined, regexp: string | undefined, what: string): Matcher {
  if ((exact === undefined) === (regexp === undefined)) {
    throw new VerificationError('POLICY', `policy: give exactly one of ${what} and ${what}Regexp`);
  }
  if (exact !== undefined) {
    if (exact === '') throw new VerificationError('POLICY', `policy: ${what} is empty`);
    return { test: (v) => v === exact, describe: JSON.stringify(exact) };
  }
  let re: RegExp;
  try {
    // No 'u' flag: cosign-style patterns written for Go (e.g. `\-`) stay valid.
    re = new RegExp(`^(?:${regexp})$`);
  } catch (e) {
    throw new VerificationError('POLICY', `policy: ${what}Regexp is not a valid regular expression (${(e as Error).message})`);
  }
  return { test: (v) => re.test(v), describe: `/${regexp}/ (whole value)` };
}

export interface CompiledPolicy {
  identity: Matcher;
  issuer: Matcher;
}

export function compilePolicy(policy: Policy): CompiledPolicy {
  if (typeof policy !== 'object' || policy === null) throw new VerificationError('POLICY', 'policy: missing');
  return { identity: matcher(policy.identity, policy.identityRegexp, 'identity'), issuer: matcher(policy.issuer, policy.issuerRegexp, 'issuer') };
}

/** A DER UTF8String on its own (the value of extension .1.8); one issuer signs many certificates. */
const utf8 = memoizeByBytes((der: Buffer): string => utf8String(parseDer(der, true), 'UTF8String'));

/** GeneralName [1] rfc822Name and [6] uniformResourceIdentifier: IA5String, IMPLICIT. */
function ia5(name: Block): string {
  return primitiveContents(name, 'subject alternative name').toString('latin1');
}

/** GeneralName [0] otherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }, IMPLICIT. */
function otherName(name: Block): { typeId: string; value: Block } {
  if (!name.idBlock.isConstructed) throw new Error('otherName: primitive');
  const [typeId, value, ...extra] = (name as asn1js.Constructed).valueBlock.value as Block[];
  if (extra.length > 0) throw new Error('otherName: expected 2 fields');
  return { typeId: oid(typeId, 'otherName type-id'), value: explicit(value, 0, 'otherName value') };
}

/** SubjectAltName ::= GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName */
function san(leaf: LeafState): Pick<CertificateIdentity, 'san' | 'sanType'> {
  const ext = leaf.cert.extensions.get(id_ce_subjectAltName);
  if (!ext) throw new VerificationError('IDENTITY', 'the signing certificate has no subject alternative name');
  return readSan(ext.value);
}

/** The one name of a SubjectAltName value; a signer's identity recurs in all its certificates. */
const readSan = memoizeByBytes((value: Buffer): Pick<CertificateIdentity, 'san' | 'sanType'> => {
  let names: Block[];
  try {
    names = sequence(parseDer(value, true), 'subjectAltName');
    if (names.some((n) => n.idBlock.tagClass !== 3)) throw new Error('not a GeneralName');
  } catch {
    throw new VerificationError('IDENTITY', 'the subject alternative name extension is malformed');
  }
  // Fulcio certifies exactly one identity; several would leave "which one signed" to interpretation.
  if (names.length !== 1) throw new VerificationError('IDENTITY', `the signing certificate has ${names.length} subject alternative names, expected one`);
  const name = names[0]!;
  try {
    if (isContext(name, 1)) return { san: ia5(name), sanType: 'email' };
    if (isContext(name, 6)) return { san: ia5(name), sanType: 'uri' };
  } catch {
    throw new VerificationError('IDENTITY', 'the subject alternative name extension is malformed');
  }
  if (isContext(name, 0)) {
    let other: { typeId: string; value: Block };
    try {
      other = otherName(name);
    } catch {
      throw new VerificationError('IDENTITY', 'the subject alternative name extension is malformed');
    }
    if (other.typeId === OID_OTHERNAME_USERNAME) {
      try {
        return { san: utf8String(other.value, 'username'), sanType: 'username' };
      } catch {
        throw new VerificationError('IDENTITY', 'the username subject alternative name is malformed');
      }
    }
  }
  throw new VerificationError('IDENTITY', 'the subject alternative name is not an email, URI or username');
}, 256, 512);

function oidcIssuer(leaf: LeafState): string {
  const v2 = leaf.cert.extensions.get(OID_ISSUER_V2);
  const v1 = leaf.cert.extensions.get(OID_ISSUER_V1);
  let fromV2: string | undefined;
  try {
    fromV2 = v2 && utf8(v2.value);
  } catch {
    throw new VerificationError('ISSUER', 'the OIDC issuer extension (1.3.6.1.4.1.57264.1.8) is malformed');
  }
  // The deprecated extension holds the raw string, not DER.
  const fromV1 = v1?.value.toString('utf8');
  if (fromV1 !== undefined && fromV2 !== undefined && fromV1 !== fromV2) {
    throw new VerificationError('ISSUER', 'the two OIDC issuer extensions of the signing certificate disagree');
  }
  const issuer = fromV2 ?? fromV1;
  if (!issuer) throw new VerificationError('ISSUER', 'the signing certificate has no OIDC issuer extension');
  return issuer;
}

export function certificateIdentity(leaf: LeafState): CertificateIdentity {
  leaf.identity ??= { ...san(leaf), issuer: oidcIssuer(leaf) };
  return leaf.identity;
}

export function verifyIdentity(identity: CertificateIdentity, policy: CompiledPolicy): void {
  if (!policy.identity.test(identity.san)) {
    throw new VerificationError('IDENTITY', `certificate identity ${JSON.stringify(identity.san)} does not match ${policy.identity.describe}`);
  }
  if (!policy.issuer.test(identity.issuer)) {
    throw new VerificationError('ISSUER', `certificate issuer ${JSON.stringify(identity.issuer)} does not match ${policy.issuer.describe}`);
  }
}
