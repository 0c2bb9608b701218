// Initial sequence numbers, RFC 6528 §3: "ISN = M + F(localip, localport, remoteip,
// remoteport, secretkey) where M is the 4 microsecond timer, and F() is a
// pseudorandom function (PRF) of the connection-id". The timer keeps successive
// incarnations of one 4-tuple moving forward through sequence space (RFC 9293
// §3.4.1); the keyed hash keeps an off-path attacker from guessing the ISN.

import { hash } from 'node:crypto';
import { IntactError } from '../errors.js';

export type IssGenerator = (
  localAddr: number, localPort: number, remoteAddr: number, remotePort: number, now: number,
) => number;

/** RFC 6528 §3: the secret "SHOULD be of at least 128 bits". */
const MIN_SECRET_BYTES = 16;

/** An ISS generator keyed by `secret` (e.g. randomBytes(32), one per process, or one
 *  shared by primary and backup). Addresses are IPv4 as unsigned 32-bit numbers;
 *  `now` is ms on a clock that keeps running across restarts and hosts (Date.now()),
 *  so that a connection opened on the backup after takeover does not restart M. */
export function makeIssGenerator(secret: Buffer): IssGenerator {
  if (!Buffer.isBuffer(secret) || secret.length < MIN_SECRET_BYTES) {
    throw new IntactError('ERR_INTACT_INVALID_ARG', `ISN secret must be a Buffer of at least ${MIN_SECRET_BYTES} bytes`);
  }
  // secret || tuple in one buffer, filled in per call. A copy of the secret: the
  // caller may reuse or wipe its buffer.
  const input = Buffer.alloc(secret.length + 12);
  secret.copy(input, 0);
  const at = secret.length;
  return (localAddr, localPort, remoteAddr, remotePort, now) => {
    input.writeUInt32BE(localAddr >>> 0, at);
    input.writeUInt16BE(localPort & 0xffff, at + 4);
    input.writeUInt32BE(remoteAddr >>> 0, at + 6);
    input.writeUInt16BE(remotePort & 0xffff, at + 10);
    // RFC 6528 §3 suggests MD5 over the connection-id and the secret; SHA-256 over the
    // same, truncated to 32 bits, is that with a hash nobody has broken. The one-shot
    // crypto.hash() costs ~1 µs here, a quarter of an HMAC object per call.
    const f = hash('sha256', input, 'buffer').readUInt32BE(0);
    // 4 µs ticks: 250 per millisecond, modulo 2^32 (M wraps every ~4.77 hours).
    const m = Math.floor(now * 250) % 0x100000000;
    return (m + f) >>> 0;
  };
}
