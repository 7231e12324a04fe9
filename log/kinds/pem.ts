import { BadRequestError } from '../../core/errors.ts';

/**
 * PEM reading for keys submitted to the log. Go's pem.Decode skips any text before a block and Rekor then
 * parses whole concatenated chains (rekor#823); we accept exactly one block and nothing around it but
 * whitespace, so the bytes a verifier later reads from the log are the bytes that were checked.
 */

export interface PemBlock {
  type: string;
  der: Buffer;
}

const BEGIN = /^-----BEGIN ([A-Z0-9]+(?: [A-Z0-9]+)*)-----$/;
const BODY_LINE = /^[A-Za-z0-9+/=]+$/;

export function parseSinglePem(bytes: Buffer, path: string): PemBlock {
  const text = bytes.toString('latin1');
  // PEM is printable ASCII; anything else is not a PEM document (and keeps the line logic below simple).
  if (!/^[\x20-\x7e\r\n\t]*$/.test(text)) throw new BadRequestError(`${path} is not a PEM document (non-ASCII bytes)`);
  const blocks = text.split('-----BEGIN ').length - 1;
  if (blocks === 0) throw new BadRequestError(`${path} is not a PEM document (no BEGIN line)`);
  if (blocks > 1) throw new BadRequestError(`${path} holds ${blocks} PEM blocks; exactly one certificate or public key is accepted`);

  const lines = text.trim().split(/\r?\n/);
  const begin = BEGIN.exec(lines[0]);
  if (!begin) throw new BadRequestError(`${path} must start with a PEM BEGIN line`);
  const type = begin[1];
  if (lines.length < 3 || lines[lines.length - 1] !== `-----END ${type}-----`) {
    throw new BadRequestError(`${path} must end with "-----END ${type}-----"`);
  }
  const body = lines.slice(1, -1);
  if (!body.every((l) => BODY_LINE.test(l))) {
    throw new BadRequestError(`${path} PEM body must be base64 lines only (no headers)`);
  }
  const b64 = body.join('');
  const der = Buffer.from(b64, 'base64');
  // Canonical check (padding, no stray '=' inside): re-encoding must give back what was sent.
  if (der.length === 0 || der.toString('base64') !== b64) throw new BadRequestError(`${path} PEM body is not valid base64`);
  return { type, der };
}

/** PEM as Go's encoding/pem writes it (64-character lines, trailing newline): the form Rekor stores. */
export function encodePem(type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}
