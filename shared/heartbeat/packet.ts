// A heartbeat datagram. Authenticated with the deployment's shared key, because a
// forged beat could hold off a takeover forever (or a forged silence... cannot be
// forged: silence is the absence of valid beats).
//   'IHB1' | role u8 | vip u32 | seq u32 | sentAt f64 (wall clock ms) | HMAC-SHA256[0..16)
import { createHmac, timingSafeEqual } from 'node:crypto';

export const HEARTBEAT_BYTES = 4 + 1 + 4 + 4 + 8 + 16;
const MAGIC = 0x49484231; // 'IHB1'

export type Role = 'primary' | 'backup';

export interface Beat {
  role: Role;
  vip: number;
  seq: number;
  sentAt: number;
}

function mac(key: Buffer, head: Buffer): Buffer {
  return createHmac('sha256', key).update(head).digest().subarray(0, 16);
}

export function encodeBeat(key: Buffer, b: Beat): Buffer {
  const out = Buffer.allocUnsafe(HEARTBEAT_BYTES);
  out.writeUInt32BE(MAGIC, 0);
  out[4] = b.role === 'primary' ? 1 : 2;
  out.writeUInt32BE(b.vip >>> 0, 5);
  out.writeUInt32BE(b.seq >>> 0, 9);
  out.writeDoubleBE(b.sentAt, 13);
  mac(key, out.subarray(0, 21)).copy(out, 21);
  return out;
}

/** Returns the beat, or the reason it is refused. */
export function decodeBeat(key: Buffer, d: Buffer): Beat | { refused: string } {
  if (d.length !== HEARTBEAT_BYTES) return { refused: 'bad-length' };
  if (d.readUInt32BE(0) !== MAGIC) return { refused: 'bad-magic' };
  if (d[4] !== 1 && d[4] !== 2) return { refused: 'bad-role' };
  if (!timingSafeEqual(mac(key, d.subarray(0, 21)), d.subarray(21))) return { refused: 'bad-mac' };
  return { role: d[4] === 1 ? 'primary' : 'backup', vip: d.readUInt32BE(5), seq: d.readUInt32BE(9), sentAt: d.readDoubleBE(13) };
}
