// The replication hello: both ends prove they hold the shared key from the config
// without sending it (HMAC-SHA256 over both nonces), so a stray or hostile peer on
// the replication link is refused before it can store or claim anything.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { MAC_BYTES, NONCE_BYTES, PROTOCOL_VERSION, MsgType, type Challenge, type Hello, type Welcome } from './messages.js';

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

function mac(key: Buffer, label: string, ...parts: Buffer[]): Buffer {
  const h = createHmac('sha256', key).update(label);
  for (const p of parts) h.update(p);
  return h.digest();
}

function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

export function challenge(nonceB: Buffer): Challenge {
  return { type: MsgType.Challenge, version: PROTOCOL_VERSION, nonce: nonceB };
}

/** The primary's HELLO for the backup's challenge `nonceB`; `app` is the name of the
 *  app it serves (IntactApp.name), which the backup's must match. */
export function hello(key: Buffer, vip: number, nonceB: Buffer, nonceP: Buffer, app: string): Hello {
  return {
    type: MsgType.Hello,
    version: PROTOCOL_VERSION,
    vip,
    nonce: nonceP,
    mac: mac(key, 'intact hello', nonceB, nonceP, u32(vip), Buffer.from(app, 'utf8')),
    app,
  };
}

export function welcome(key: Buffer, nonceP: Buffer, nonceB: Buffer): Welcome {
  return { type: MsgType.Welcome, mac: mac(key, 'intact welcome', nonceP, nonceB) };
}

function same(a: Buffer, b: Buffer): boolean {
  return a.length === MAC_BYTES && b.length === MAC_BYTES && timingSafeEqual(a, b);
}

/** The backup's check of a HELLO against the challenge it sent. */
export function verifyHello(key: Buffer, h: Hello, nonceB: Buffer): 'ok' | 'bad-version' | 'bad-mac' {
  if (h.version !== PROTOCOL_VERSION) return 'bad-version';
  return same(h.mac, mac(key, 'intact hello', nonceB, h.nonce, u32(h.vip), Buffer.from(h.app, 'utf8'))) ? 'ok' : 'bad-mac';
}

/** The primary's check that the backup holds the key too. */
export function verifyWelcome(key: Buffer, w: Welcome, nonceP: Buffer, nonceB: Buffer): boolean {
  return same(w.mac, mac(key, 'intact welcome', nonceP, nonceB));
}
