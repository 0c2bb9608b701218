// The replication protocol between a primary and its backup (the thesis' dedicated
// link), as plain values. shared/replication/codec.ts turns them into bytes.
//
// Framing: every message is [u32 length][u8 type][body], length counting type + body.
// Many messages are written per socket write. The primary numbers the messages it
// sends after the handshake (1, 2, 3, ... implicitly, in order on the stream); the
// backup confirms "everything up to message N is held" with one CONFIRM per batch, so
// confirmations are pipelined and cost nothing per segment. The primary maps message
// numbers to the ACK and send gates of each connection (rules 1 and 2 of DESIGN.md).
//
// Handshake (nothing is stored before it completes):
//   backup  -> primary  CHALLENGE {version, nonceB}
//   primary -> backup   HELLO     {version, vip, nonceP, mac = HMAC(key, "intact hello" | nonceB | nonceP | vip | app), app}
//   backup  -> primary  WELCOME   {mac = HMAC(key, "intact welcome" | nonceP | nonceB)}   or REFUSE {reason}
// Both sides prove they hold the key; a peer without it is refused and changes nothing.

// 2: OPEN and RESYNC carry replayWindow (output replay).
// 3: HELLO carries the app's name (after the MAC, so an older HELLO still decodes and
//    is refused as bad-version): a backup running another app refuses the primary, since
//    its app could not restore the primary's checkpoints.
export const PROTOCOL_VERSION = 3;
/** Longest app name a HELLO carries, in UTF-8 bytes. */
export const MAX_APP_NAME_BYTES = 255;
/** A frame longer than this is a protocol error: it bounds what a hostile peer can
 *  make us buffer. Data messages are cut well below it by the sender. */
export const MAX_FRAME = 4 * 1024 * 1024;
export const NONCE_BYTES = 16;
/** The largest replay window an OPEN may carry (bytes). */
export const MAX_REPLAY_WINDOW = 2 ** 30;
export const MAC_BYTES = 32;

export enum MsgType {
  Challenge = 1,
  Hello = 2,
  Welcome = 3,
  Refuse = 4,
  Open = 10,
  RecvData = 11,
  SendData = 12,
  Update = 13,
  Checkpoint = 14,
  Close = 15,
  Resync = 16,
  Heartbeat = 20,
  Confirm = 21,
}

export interface Challenge { type: MsgType.Challenge; version: number; nonce: Buffer }
export interface Hello { type: MsgType.Hello; version: number; vip: number; nonce: Buffer; mac: Buffer; app: string }
export interface Welcome { type: MsgType.Welcome; mac: Buffer }
export interface Refuse { type: MsgType.Refuse; reason: string }

/** A connection the primary accepted: enough to rebuild it if nothing else arrives. */
export interface Open {
  type: MsgType.Open;
  conn: number;          // connection id, unique per primary for the session
  localAddr: number; localPort: number; remoteAddr: number; remotePort: number;
  iss: number;           // our initial send sequence number
  irs: number;           // the client's initial sequence number
  mss: number;           // the client's MSS (what we may send)
  sndWndShift: number;   // the client's window scale (applies to windows it sends)
  rcvWndShift: number;   // our window scale (applies to windows we send)
  sackOk: boolean;
  tsOk: boolean;
  tsRecent: number;      // the client's latest TSval
  tsLast: number;        // our latest TSval sent: the backup continues at or above it (rule 8)
  sndWnd: number;        // the client's window, scaled, at open
  /** Output replay (0: strict, rule 2 as written): the app regenerates its output, so
   *  the primary sends its bytes without replicating them, at most this many past the
   *  snd_una the backup confirmed holding; it replicates the send bytes only at its
   *  FIN (all that is unacknowledged), and the FIN itself waits for the backup as in
   *  strict mode. A checkpoint comes once the client acknowledged what it produced, or
   *  with the unacknowledged part of that (primary/replication/mirror.ts). */
  replayWindow: number;
}

/**
 * A connection the primary already serves, put under this backup's protection now (the
 * backup was down, or is a new one): the OPEN's fields at their current values, and the
 * stream positions the replica starts at. The primary sends it at one of the app's
 * checkpoints, when the app has been handed every byte taken from the engine, so it
 * holds all the backup needs: receive bytes from `rcvBase` (the checkpoint's consumed
 * point) to rcv_nxt and send bytes from `sndBase` (snd_una) on, in the engine's queues.
 * An UPDATE, that data, and the CHECKPOINT follow; until the CHECKPOINT arrives the
 * replica is incomplete and a takeover leaves it out (its client was unprotected).
 */
export interface Resync extends Omit<Open, 'type'> {
  type: MsgType.Resync;
  rcvBase: number;       // receive stream position the replica starts at
  sndBase: number;       // send stream position the replica starts at (snd_una's)
}

export interface RecvData { type: MsgType.RecvData; conn: number; seq: number; data: Buffer }
export interface SendData { type: MsgType.SendData; conn: number; seq: number; data: Buffer }

/** Control-block changes that rule 3 needs; sent coalesced, not per segment. */
export interface Update {
  type: MsgType.Update;
  conn: number;
  state: number;         // TcpState index, see codec STATES
  sndUna: number;
  sndWnd: number;        // scaled
  tsRecent: number;
  tsLast: number;
  finSeq: number;        // sequence number of the client's FIN, or 0 with finReceived false
  finReceived: boolean;
}

/** Rule 4: {application state, bytes consumed, bytes produced}, atomically. */
export interface Checkpoint {
  type: MsgType.Checkpoint;
  conn: number;
  consumed: number;      // stream position: bytes the app consumed from the receive stream
  produced: number;      // stream position: bytes the app wrote into the send stream
  state: Buffer;         // opaque application state
}

export interface Close { type: MsgType.Close; conn: number }
export interface Heartbeat { type: MsgType.Heartbeat; seq: number; sentAt: number }
/** From the backup: every message up to and including number `upTo` is held. */
export interface Confirm { type: MsgType.Confirm; upTo: number }

export type Message =
  | Challenge | Hello | Welcome | Refuse
  | Open | Resync | RecvData | SendData | Update | Checkpoint | Close
  | Heartbeat | Confirm;
