// Real private keys for redaction tests: PEM as Node exports them, and an OpenSSH-format body.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

export function rsaPkcs1(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString().trim();
}

export function ecPkcs8(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().trim();
}

export function encryptedPkcs8(): string {
  return generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString().trim();
}

/** The OpenSSH container shape (magic, then key data), wrapped at 70 characters like ssh-keygen does. */
export function openssh(): string {
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0', 'latin1'), randomBytes(384)]).toString('base64');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${body.match(/.{1,70}/g)!.join('\n')}\n-----END OPENSSH PRIVATE KEY-----`;
}

/** The body lines of a PEM block (no header or footer). */
export function bodyLines(pem: string): string[] {
  return pem.split(/\r?\n/).filter((l) => l && !l.startsWith('-----') && !l.includes(':'));
}

/** Traditional encrypted PEM: RFC 1421 headers, a blank line, then the body. */
export function encryptedPkcs1(): string {
  return generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString().trim();
}

export function ecSec1(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString().trim();
}
