/**
 * cosign's key files: `cosign.pub` (PEM SubjectPublicKeyInfo) and `cosign.key`, a PEM block
 * "ENCRYPTED SIGSTORE PRIVATE KEY" whose content is the JSON of go-securesystemslib's `encrypted` package:
 * {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":b64},"cipher":{"name":"nacl/secretbox","nonce":b64},"ciphertext":b64}
 * around the PKCS#8 DER of an ECDSA P-256 key. Reading refuses other KDF parameters, as upstream does, so a
 * tampered file cannot make us spend unbounded memory in scrypt.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, scryptSync, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import { derToPem, pemToDerList } from '../../core/pem.ts';
import { importPublicKey, UnsupportedKeyError } from '../../core/public-key.ts';

export const ENCRYPTED_KEY_LABEL = 'ENCRYPTED SIGSTORE PRIVATE KEY';
const LEGACY_LABEL = 'ENCRYPTED COSIGN PRIVATE KEY';
/** What cosign writes today (securesystemslib's current default); the legacy N=32768 is still read. */
const SCRYPT = { N: 65536, r: 8, p: 1 };
const ACCEPTED_N = [32768, 65536];

export class KeyFileError extends Error {}

function deriveKey(password: string, salt: Buffer, N = SCRYPT.N): Uint8Array {
  return scryptSync(Buffer.from(password, 'utf8'), salt, 32, { N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 256 * 1024 * 1024 });
}

export function encryptPrivateKey(privateKey: KeyObject, password: string): string {
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const sealed = nacl.secretbox(new Uint8Array(der), new Uint8Array(nonce), deriveKey(password, salt));
  const json = JSON.stringify({
    kdf: { name: 'scrypt', params: SCRYPT, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(sealed).toString('base64'),
  });
  return derToPem(Buffer.from(json), ENCRYPTED_KEY_LABEL);
}

export function decryptPrivateKey(pem: string, password: string): KeyObject {
  const blocks = [...pemToDerList(pem, ENCRYPTED_KEY_LABEL), ...pemToDerList(pem, LEGACY_LABEL)];
  if (blocks.length !== 1) throw new KeyFileError(`expected one "${ENCRYPTED_KEY_LABEL}" PEM block`);
  let doc: { kdf?: { name?: unknown; params?: { N?: unknown; r?: unknown; p?: unknown }; salt?: unknown }; cipher?: { name?: unknown; nonce?: unknown }; ciphertext?: unknown };
  try {
    doc = JSON.parse(blocks[0]!.toString('utf8'));
  } catch {
    throw new KeyFileError('the encrypted key is not JSON');
  }
  if (doc?.kdf?.name !== 'scrypt' || doc.cipher?.name !== 'nacl/secretbox') throw new KeyFileError('unsupported key encryption (scrypt + nacl/secretbox only)');
  const p = doc.kdf.params;
  if (typeof p?.N !== 'number' || !ACCEPTED_N.includes(p.N) || p.r !== SCRYPT.r || p.p !== SCRYPT.p) throw new KeyFileError('unexpected scrypt parameters');
  if (typeof doc.kdf.salt !== 'string' || typeof doc.cipher.nonce !== 'string' || typeof doc.ciphertext !== 'string') throw new KeyFileError('malformed encrypted key');
  const nonce = Buffer.from(doc.cipher.nonce, 'base64');
  if (nonce.length !== 24) throw new KeyFileError('malformed nonce');
  const opened = nacl.secretbox.open(new Uint8Array(Buffer.from(doc.ciphertext, 'base64')), new Uint8Array(nonce), deriveKey(password, Buffer.from(doc.kdf.salt, 'base64'), p.N as number));
  if (!opened) throw new KeyFileError('decryption failed: wrong password or a damaged key file');
  try {
    return createPrivateKey({ key: Buffer.from(opened), format: 'der', type: 'pkcs8' });
  } catch {
    throw new KeyFileError('the decrypted key is not a PKCS#8 private key');
  }
}

export function generateKeyFiles(password: string): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privatePem: encryptPrivateKey(privateKey, password), publicPem: derToPem(publicKey.export({ type: 'spki', format: 'der' }), 'PUBLIC KEY') };
}

export function readPublicKey(pem: string): KeyObject {
  const ders = pemToDerList(pem, 'PUBLIC KEY');
  if (ders.length !== 1) throw new KeyFileError('expected one PUBLIC KEY PEM block');
  try {
    return importPublicKey(ders[0]!, (form) => form.type === 'ec' && form.curve === 'P-256').key;
  } catch (e) {
    throw new KeyFileError(`only ECDSA P-256 keys are supported (named curve, uncompressed point): this is ${e instanceof UnsupportedKeyError ? e.message : 'not a DER public key'}`);
  }
}
