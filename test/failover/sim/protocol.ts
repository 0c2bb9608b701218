// The request/response protocol of the failover simulation, shared by the client that
// checks the replies and the server app that produces them. Every reply is a pure
// function of its request line, so a server restarted from a checkpoint produces the
// same bytes again (DESIGN rule 2 drops them below the replicated send end), and the
// closing trailer carries a hash of every request byte the server consumed: the client
// compares it with its own, which proves each byte was consumed exactly once.
//
//   request  R<i>:<replyLen>:<padding>\n   (padding: client -> server volume)
//   reply    A<i>:<replyLen bytes>\n
//   quit     Q\n                           (the server replies with the trailer, then closes)
//   trailer  E<requests>:<hash>\n           (after the quit, or after the client's FIN)

import { seeded } from '../../tcp/harness.js';

export const FNV_OFFSET = 0x811c9dc5;
const NL = 0x0a;

/** FNV-1a, 32 bits: a running hash whose state is one number (checkpointable). */
export function fnv(h: number, b: number): number {
  return Math.imul(h ^ b, 16777619) >>> 0;
}

export function fnvBuf(h: number, buf: Buffer): number {
  for (let i = 0; i < buf.length; i++) h = fnv(h, buf[i]!);
  return h;
}

export interface Request {
  /** The whole line, '\n' included. */
  line: Buffer;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function requestLine(i: number, replyLen: number, padLen: number, rand: () => number): Buffer {
  let pad = '';
  for (let k = 0; k < padLen; k++) pad += LETTERS[Math.floor(rand() * LETTERS.length)];
  return Buffer.from(`R${i}:${replyLen}:${pad}\n`);
}

export const QUIT = Buffer.from('Q\n');

/** The reply to one request line (the line includes its '\n'); undefined for a quit. */
export function replyTo(line: Buffer): Buffer | undefined {
  if (line[0] !== 0x52 /* R */) return undefined;
  const text = line.subarray(0, Math.min(line.length, 40)).toString('latin1');
  const m = /^R(\d+):(\d+):/.exec(text);
  if (m === null) return Buffer.from('X\n');
  const len = Number(m[2]);
  const head = Buffer.from(`A${m[1]}:`);
  const body = Buffer.allocUnsafe(len);
  const rand = seeded(fnvBuf(FNV_OFFSET, line));
  for (let k = 0; k < len; k++) body[k] = 0x21 + Math.floor(rand() * 90);
  return Buffer.concat([head, body, Buffer.from('\n')]);
}

export function trailer(requests: number, hash: number): Buffer {
  return Buffer.from(`E${requests}:${hash.toString(16)}\n`);
}

export function isQuit(line: Buffer): boolean {
  return line.length === 2 && line[0] === 0x51 && line[1] === NL;
}
