/**
 * The shared keys that encrypt and authenticate cluster traffic (after memberlist's keyring):
 * seal with the primary key, open by trying every installed key, so keys rotate without
 * downtime: install the new key on every member, then make it primary on every member, then
 * remove the old one everywhere (each step complete on every member, and what was sealed with
 * the old key delivered, before the next: a frame in flight sealed with a removed key is
 * rejected). It owns the keys and the sealed format; it does not move bytes
 * (./transports/secure.ts does).
 *
 * Sealed format: version:u8 (1) | nonce (12 bytes) | AES-256-GCM ciphertext | tag (16 bytes).
 * The version byte is authenticated as associated data. There is no replay protection at this
 * level (as in memberlist): the membership protocol tolerates duplicated packets, and streams
 * ride on TCP.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CloudstateError } from '../core/index.js';

export const SEALED_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes `seal` adds to a message. */
export const SEAL_OVERHEAD = 1 + NONCE_BYTES + TAG_BYTES;
const AAD = Buffer.from([SEALED_VERSION]);

/** A key as given: 32 raw bytes, or their base64 encoding. */
export type KeyInput = Uint8Array | string;

function toKey(input: KeyInput): Buffer {
  const key = typeof input === 'string' ? Buffer.from(input, 'base64') : Buffer.from(input);
  if (key.length !== 32) throw new CloudstateError('ERR_CLUSTER_KEY_INVALID', `a cluster key is 32 bytes (AES-256), got ${key.length}`);
  return key;
}

export class Keyring {
  private keys: Buffer[];

  /** @param keys the installed keys, the first one primary; at least one, each 32 bytes or base64 of 32 bytes. */
  constructor(keys: readonly KeyInput[]) {
    if (keys.length === 0) throw new CloudstateError('ERR_CLUSTER_KEY_INVALID', 'a keyring needs at least one key');
    this.keys = [];
    for (const k of keys) {
      const key = toKey(k);
      if (!this.keys.some((x) => x.equals(key))) this.keys.push(key);
    }
  }

  /** The key that seals (a copy). */
  get primary(): Uint8Array {
    return Buffer.from(this.keys[0]!);
  }

  /** Every installed key, primary first (copies). */
  get installed(): Uint8Array[] {
    return this.keys.map((k) => Buffer.from(k));
  }

  /** Adds a key that `open` accepts; sealing keeps using the primary. Installing a key twice does nothing. */
  install(input: KeyInput): void {
    const key = toKey(input);
    if (!this.keys.some((k) => k.equals(key))) this.keys.push(key);
  }

  /** Makes an installed key the primary (`ERR_CLUSTER_KEY_UNKNOWN` if it is not installed). */
  use(input: KeyInput): void {
    const key = toKey(input);
    const i = this.keys.findIndex((k) => k.equals(key));
    if (i < 0) throw new CloudstateError('ERR_CLUSTER_KEY_UNKNOWN', 'install a key before making it primary');
    this.keys.unshift(...this.keys.splice(i, 1));
  }

  /** Removes a key (`ERR_CLUSTER_KEY_PRIMARY` for the primary: make another primary first). Removing an unknown key does nothing. */
  remove(input: KeyInput): void {
    const key = toKey(input);
    if (this.keys[0]!.equals(key)) throw new CloudstateError('ERR_CLUSTER_KEY_PRIMARY', 'cannot remove the primary key');
    this.keys = this.keys.filter((k) => !k.equals(key));
  }

  /** Encrypts and authenticates `plain` with the primary key and a fresh random nonce. */
  seal(plain: Uint8Array): Uint8Array {
    // The nonce comes from the OS CSPRNG, not the injected seeded random: GCM nonces must never
    // repeat under one key and must not be predictable, so a replayable seed would be a flaw here.
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys[0]!, nonce);
    cipher.setAAD(AAD);
    const out = Buffer.allocUnsafe(SEAL_OVERHEAD + plain.byteLength);
    out[0] = SEALED_VERSION;
    nonce.copy(out, 1);
    let off = 1 + NONCE_BYTES;
    off += cipher.update(plain).copy(out, off);
    off += cipher.final().copy(out, off);
    cipher.getAuthTag().copy(out, off);
    return out;
  }

  /** Decrypts a sealed message with whichever installed key authenticates it; `undefined` if none does or it is malformed. */
  open(sealed: Uint8Array): Uint8Array | undefined {
    if (sealed.byteLength < SEAL_OVERHEAD || sealed[0] !== SEALED_VERSION) return undefined;
    const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const nonce = b.subarray(1, 1 + NONCE_BYTES);
    const body = b.subarray(1 + NONCE_BYTES, b.length - TAG_BYTES);
    const tag = b.subarray(b.length - TAG_BYTES);
    for (const key of this.keys) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, nonce);
        decipher.setAAD(AAD);
        decipher.setAuthTag(tag);
        const head = decipher.update(body);
        const tail = decipher.final(); // throws when this key does not authenticate it
        return tail.length === 0 ? head : Buffer.concat([head, tail]);
      } catch {
        // not this key: try the next
      }
    }
    return undefined;
  }
}
