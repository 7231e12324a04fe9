/**
 * The values of the X.509 extensions the verifier reads (RFC 5280 4.2.1), each parsed on its own with asn1js
 * when read (der.ts) and checked element by element: a value with a wrong tag, a missing field or trailing
 * bytes is "malformed", never half read.
 */
import * as asn1js from 'asn1js';
import { KeyUsage, KeyUsageFlags, id_ce_authorityKeyIdentifier, id_ce_basicConstraints, id_ce_extKeyUsage, id_ce_keyUsage, id_ce_subjectKeyIdentifier } from '@peculiar/asn1-x509';
import { as, isContext, octetString, oid, parseDer, primitiveContents, sequence, type Block } from './der.ts';
import type { ParsedCertificate } from './x509.ts';
import { memoizeByBytes } from './cache.ts';

/** Each reader below, memoized by the bytes it reads (cache.ts): these values recur from one leaf to the next. */
const memoized = new WeakMap<(value: Block) => unknown, (value: Buffer) => unknown>();

/**
 * Reads extension `oid` with `read`; undefined when absent; throws "extension <oid> is malformed" on any defect.
 * `read` must be a function defined once (a module constant), as every reader here is: it is memoized by identity.
 */
export function readExtension<T>(cert: Pick<ParsedCertificate, 'extensions'>, extnId: string, read: (value: Block) => T): T | undefined {
  const ext = cert.extensions.get(extnId);
  if (!ext) return undefined;
  let parse = memoized.get(read) as ((value: Buffer) => T) | undefined;
  if (!parse) {
    parse = memoizeByBytes((value) => read(parseDer(value, true)));
    memoized.set(read, parse);
  }
  try {
    return parse(ext.value);
  } catch {
    throw new Error(`extension ${extnId} is malformed`);
  }
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
function readBasicConstraints(v: Block): { ca: boolean; pathLen?: number } {
  const items = sequence(v, 'basicConstraints');
  let i = 0;
  let ca = false;
  let pathLen: number | undefined;
  if (items[i] instanceof asn1js.Boolean) ca = (items[i++] as asn1js.Boolean).valueBlock.value;
  if (items[i] instanceof asn1js.Integer) {
    pathLen = (items[i++] as asn1js.Integer).valueBlock.valueDec;
    if (!Number.isSafeInteger(pathLen) || pathLen < 0) throw new Error('pathLenConstraint out of range');
  }
  if (i !== items.length) throw new Error('unexpected element');
  return { ca, pathLen };
}

export function basicConstraints(cert: ParsedCertificate): { ca: boolean; pathLen?: number } {
  return readExtension(cert, id_ce_basicConstraints, readBasicConstraints) ?? { ca: false };
}

function readKeyUsage(v: Block): number {
  const bits = as(v, asn1js.BitString, 'keyUsage');
  primitiveContents(bits, 'keyUsage');
  return new KeyUsage().fromASN(bits).toNumber();
}

/** KeyUsage flags (asn1-x509's KeyUsageFlags numbering), or undefined when the extension is absent. */
export function keyUsage(cert: ParsedCertificate): number | undefined {
  return readExtension(cert, id_ce_keyUsage, readKeyUsage);
}

/** ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId */
function readExtendedKeyUsage(v: Block): readonly string[] {
  return sequence(v, 'extKeyUsage').map((p) => oid(p, 'extKeyUsage'));
}

export function extendedKeyUsage(cert: ParsedCertificate): readonly string[] {
  return readExtension(cert, id_ce_extKeyUsage, readExtendedKeyUsage) ?? [];
}

function readSubjectKeyId(v: Block): Buffer {
  return octetString(v, 'subjectKeyIdentifier');
}

export function subjectKeyId(cert: ParsedCertificate): Buffer | undefined {
  return readExtension(cert, id_ce_subjectKeyIdentifier, readSubjectKeyId);
}

/**
 * AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL,
 *   authorityCertIssuer [1] IMPLICIT GeneralNames OPTIONAL, authorityCertSerialNumber [2] IMPLICIT INTEGER OPTIONAL }
 * Only the key identifier is used; the others must still be where and what they should be.
 */
function readAuthorityKeyId(v: Block): Buffer | undefined {
  let keyId: Buffer | undefined;
  let next = 0;
  for (const item of sequence(v, 'authorityKeyIdentifier')) {
    const tag = item.idBlock.tagNumber;
    if (!isContext(item, tag) || tag < next || tag > 2 || item.idBlock.isConstructed !== (tag === 1)) throw new Error('unexpected element');
    if (tag === 0) keyId = primitiveContents(item, 'keyIdentifier');
    next = tag + 1;
  }
  return keyId;
}

export function authorityKeyId(cert: ParsedCertificate): Buffer | undefined {
  return readExtension(cert, id_ce_authorityKeyIdentifier, readAuthorityKeyId);
}

function readOctetString(v: Block): Buffer {
  return octetString(v, 'extension value');
}

/** The contents of an extension whose value is itself an OCTET STRING (the CT SCT list). */
export function octetStringExtension(cert: ParsedCertificate, extnId: string): Buffer | undefined {
  return readExtension(cert, extnId, readOctetString);
}

export { KeyUsageFlags };
