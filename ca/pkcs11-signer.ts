import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ECDSASigValue } from '@peculiar/asn1-ecc';
import * as graphene from 'graphene-pk11';
import type { Signer } from '../core/signer.ts';

/**
 * A Signer whose P-256 private key lives in a PKCS#11 token (an HSM; SoftHSM2 in tests), through graphene-pk11.
 * The key is generated inside the token as sensitive and non-extractable, so the CA process can use it but never
 * read it. Signing hashes with node:crypto and has the token sign the digest (CKM_ECDSA, which every token has);
 * the token's raw r||s is re-encoded as the DER signature the rest of Sigstack expects.
 */

export interface Pkcs11Options {
  /** Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  module: string;
  /** Label of the token (slot) holding the key. */
  tokenLabel: string;
  /** The user PIN. */
  pin: string;
  /** CKA_LABEL of the key pair. */
  keyLabel: string;
}

/** DER OID of prime256v1, the CKA_EC_PARAMS of a P-256 key. */
const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');

interface Opened {
  module: graphene.Module;
  session: graphene.Session;
}

/**
 * A module is initialised once per process and kept: C_Initialize twice is an error, and finalising while another
 * signer still has a session would pull its key away.
 */
const modules = new Map<string, graphene.Module>();

function open(opts: Pkcs11Options): Opened {
  let module = modules.get(opts.module);
  if (!module) {
    module = graphene.Module.load(opts.module);
    module.initialize();
    modules.set(opts.module, module);
  }
  const slots = module.getSlots(true);
  for (let i = 0; i < slots.length; i++) {
    const slot = slots.items(i);
    if (slot.getToken().label.trim() !== opts.tokenLabel) continue;
    const session = slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION);
    try {
      session.login(opts.pin, graphene.UserType.USER);
    } catch (err) {
      // another session of this process may already be logged in: the login state is per token, not per session
      if (!/CKR_USER_ALREADY_LOGGED_IN/.test((err as Error).message)) {
        session.close();
        throw new Error(`PKCS#11: login to token "${opts.tokenLabel}" failed: ${(err as Error).message}`);
      }
    }
    return { module, session };
  }
  throw new Error(`PKCS#11: no token labelled "${opts.tokenLabel}" in ${opts.module}`);
}

/** The public key from CKA_EC_POINT (a DER OCTET STRING around the uncompressed point). */
function publicKeyFromPoint(point: Buffer): KeyObject {
  const raw = point[0] === 0x04 && point.length === 67 ? point.subarray(2) : point;
  if (raw.length !== 65 || raw[0] !== 0x04) throw new Error('PKCS#11: the key is not an uncompressed P-256 point');
  const b64 = (b: Buffer) => b.toString('base64url');
  return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64(raw.subarray(1, 33)), y: b64(raw.subarray(33)) }, format: 'jwk' });
}

/** Minimal unsigned big-endian integer bytes, as DER INTEGER content wants them (a 0x00 before a set high bit). */
function derInteger(bytes: Buffer): ArrayBuffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  const out = trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
  return out.buffer.slice(out.byteOffset, out.byteOffset + out.length) as ArrayBuffer;
}

/** Generates a P-256 key pair inside the token (ceremony). Refuses to overwrite a key with the same label. */
export function generatePkcs11Key(opts: Pkcs11Options): Buffer {
  const { session } = open(opts);
  try {
    if (session.find({ class: graphene.ObjectClass.PRIVATE_KEY, label: opts.keyLabel }).length > 0) {
      throw new Error(`PKCS#11: a key labelled "${opts.keyLabel}" already exists in token "${opts.tokenLabel}"`);
    }
    const keys = session.generateKeyPair(graphene.KeyGenMechanism.EC,
      { keyType: graphene.KeyType.EC, token: true, verify: true, paramsEC: P256_PARAMS, label: opts.keyLabel },
      { keyType: graphene.KeyType.EC, token: true, sign: true, private: true, sensitive: true, extractable: false, label: opts.keyLabel });
    const point = keys.publicKey.getAttribute({ pointEC: null }).pointEC as Buffer;
    return publicKeyFromPoint(point).export({ type: 'spki', format: 'der' });
  } finally {
    session.close();
  }
}

/** Opens the token and returns a Signer over the labelled key; `close()` logs out and unloads the module. */
export function pkcs11Signer(opts: Pkcs11Options): Signer & { close(): void } {
  const { session } = open(opts);
  const find = (cls: graphene.ObjectClass) => {
    const found = session.find({ class: cls, label: opts.keyLabel });
    if (found.length !== 1) throw new Error(`PKCS#11: expected one ${cls === graphene.ObjectClass.PRIVATE_KEY ? 'private' : 'public'} key labelled "${opts.keyLabel}", found ${found.length}`);
    return found.items(0);
  };
  try {
    const privateKey = find(graphene.ObjectClass.PRIVATE_KEY).toType<graphene.PrivateKey>();
    const publicKey = publicKeyFromPoint(find(graphene.ObjectClass.PUBLIC_KEY).getAttribute({ pointEC: null }).pointEC as Buffer);
    const publicKeyDer = publicKey.export({ type: 'spki', format: 'der' });
    return {
      publicKeyDer,
      keyId: createHash('sha256').update(publicKeyDer).digest(),
      publicKey,
      get privateKey(): KeyObject {
        throw new Error('the CA key is in a PKCS#11 token and cannot be exported');
      },
      sign(data: Uint8Array): Buffer {
        const digest = createHash('sha256').update(data).digest();
        const raw = session.createSign('ECDSA', privateKey).once(digest);
        if (raw.length !== 64) throw new Error(`PKCS#11: unexpected ECDSA signature length ${raw.length}`);
        return Buffer.from(AsnConvert.serialize(new ECDSASigValue({ r: derInteger(raw.subarray(0, 32)), s: derInteger(raw.subarray(32)) })));
      },
      close() {
        session.close();
      },
    };
  } catch (err) {
    session.close();
    throw err;
  }
}
