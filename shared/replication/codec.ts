// Bytes <-> replication messages. Encoder appends framed messages to one batch buffer;
// FrameDecoder consumes a byte stream cut anywhere and yields whole messages, or one
// error that ends the session (a malformed or unknown frame drops the peer, with the
// reason logged by the caller; it never throws).
//
// Copies cost the bulk path most: the encoder's batch goes to the socket as pieces
// (framing in a buffer it reuses once the kernel has the bytes, large payloads by
// reference), and the decoder hands data out as views of what was read where that
// pins little memory (keep()).
import {
  MAX_APP_NAME_BYTES, MAX_FRAME, MAX_REPLAY_WINDOW, MAC_BYTES, NONCE_BYTES, MsgType, type Message,
} from './messages.js';
import { STATES } from './states.js';

export class DecodeError {
  constructor(readonly reason: string) {}
}

const HEADER = 5; // u32 length + u8 type

/** Payloads at least this long are not copied into the batch: they go to the socket as
 *  they are, pieces of one gathered write (writev). Below it a copy costs less than a
 *  piece does. */
export const GATHER_MIN_BYTES = 4096;

/**
 * Encodes messages into one batch: framing and small messages in a buffer of its own,
 * large payloads by reference (the engine never changes a buffer it handed on, nor the
 * app one it wrote: Node's rule). batch() gives the pieces to write in order.
 */
export class Encoder {
  private buf: Buffer;
  private len = 0;
  /** Start in `buf` of the bytes not yet in `pieces`. */
  private from = 0;
  /** The batch so far, up to `from`: views of `buf` and payloads, in order. */
  private pieces: Buffer[] = [];
  private piecesBytes = 0;

  constructor(private readonly initialBytes = 64 * 1024, private readonly gatherMin = GATHER_MIN_BYTES) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes in the batch. */
  get length(): number {
    return this.piecesBytes + this.len - this.from;
  }

  /** A copy of the batch in one buffer; the encoder starts empty again. */
  take(): Buffer {
    const out = Buffer.concat(this.batch(), this.length);
    this.reset();
    return out;
  }

  /** The batch as pieces to write in order, not copied: valid until the next write()
   *  after reset(). */
  batch(): Buffer[] {
    const tail = this.buf.subarray(this.from, this.len);
    if (this.pieces.length === 0) return [tail];
    return tail.length > 0 ? [...this.pieces, tail] : this.pieces.slice();
  }

  /** Starts empty in the same buffer: nobody holds the pieces of batch() any more. */
  reset(): void {
    this.len = this.from = this.piecesBytes = 0;
    this.pieces = [];
  }

  /** Starts empty in a new buffer: the pieces of batch() stay intact for whoever
   *  holds them (a socket that has not written them yet). */
  detach(): void {
    this.buf = Buffer.allocUnsafe(this.initialBytes);
    this.reset();
  }

  write(m: Message): void {
    const body = bodyLength(m);
    const gather = (m.type === MsgType.RecvData || m.type === MsgType.SendData) && m.data.length >= this.gatherMin;
    this.reserve(HEADER + (gather ? body - m.data.length : body));
    const b = this.buf;
    let o = this.len;
    b.writeUInt32BE(1 + body, o); o += 4;
    b[o++] = m.type;
    switch (m.type) {
      case MsgType.Challenge:
        b.writeUInt16BE(m.version, o); o += 2;
        o += m.nonce.copy(b, o);
        break;
      case MsgType.Hello:
        b.writeUInt16BE(m.version, o); o += 2;
        b.writeUInt32BE(m.vip, o); o += 4;
        o += m.nonce.copy(b, o);
        o += m.mac.copy(b, o);
        o += b.write(m.app, o, 'utf8');
        break;
      case MsgType.Welcome:
        o += m.mac.copy(b, o);
        break;
      case MsgType.Refuse:
        o += b.write(m.reason, o, 'utf8');
        break;
      case MsgType.Open:
      case MsgType.Resync:
        b.writeUInt32BE(m.conn, o); o += 4;
        b.writeUInt32BE(m.localAddr, o); o += 4;
        b.writeUInt16BE(m.localPort, o); o += 2;
        b.writeUInt32BE(m.remoteAddr, o); o += 4;
        b.writeUInt16BE(m.remotePort, o); o += 2;
        b.writeUInt32BE(m.iss, o); o += 4;
        b.writeUInt32BE(m.irs, o); o += 4;
        b.writeUInt16BE(m.mss, o); o += 2;
        b[o++] = m.sndWndShift;
        b[o++] = m.rcvWndShift;
        b[o++] = (m.sackOk ? 1 : 0) | (m.tsOk ? 2 : 0);
        b.writeUInt32BE(m.tsRecent, o); o += 4;
        b.writeUInt32BE(m.tsLast, o); o += 4;
        b.writeUInt32BE(m.sndWnd, o); o += 4;
        b.writeUInt32BE(m.replayWindow, o); o += 4;
        if (m.type === MsgType.Resync) {
          o = writeU53(b, o, m.rcvBase);
          o = writeU53(b, o, m.sndBase);
        }
        break;
      case MsgType.RecvData:
      case MsgType.SendData:
        b.writeUInt32BE(m.conn, o); o += 4;
        b.writeUInt32BE(m.seq, o); o += 4;
        if (gather) {
          this.pieces.push(b.subarray(this.from, o), m.data);
          this.piecesBytes += o - this.from + m.data.length;
          this.from = o;
        } else {
          o += m.data.copy(b, o);
        }
        break;
      case MsgType.Update:
        b.writeUInt32BE(m.conn, o); o += 4;
        b[o++] = m.state;
        b.writeUInt32BE(m.sndUna, o); o += 4;
        b.writeUInt32BE(m.sndWnd, o); o += 4;
        b.writeUInt32BE(m.tsRecent, o); o += 4;
        b.writeUInt32BE(m.tsLast, o); o += 4;
        b.writeUInt32BE(m.finSeq, o); o += 4;
        b[o++] = m.finReceived ? 1 : 0;
        break;
      case MsgType.Checkpoint:
        b.writeUInt32BE(m.conn, o); o += 4;
        o = writeU53(b, o, m.consumed);
        o = writeU53(b, o, m.produced);
        o += m.state.copy(b, o);
        break;
      case MsgType.Close:
        b.writeUInt32BE(m.conn, o); o += 4;
        break;
      case MsgType.Heartbeat:
        b.writeUInt32BE(m.seq, o); o += 4;
        b.writeDoubleBE(m.sentAt, o); o += 8;
        break;
      case MsgType.Confirm:
        o = writeU53(b, o, m.upTo);
        break;
    }
    this.len = o;
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    // Only the bytes after the last piece move: the pieces keep the old buffer alive.
    const keep = this.len - this.from;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, keep + n));
    this.buf.copy(next, 0, this.from, this.len);
    this.buf = next;
    this.from = 0;
    this.len = keep;
  }
}

/** Encodes one message on its own, in one buffer of its exact size. */
export function encode(m: Message): Buffer {
  const e = new Encoder(HEADER + bodyLength(m), Infinity);
  e.write(m);
  return e.batch()[0]!;
}

function bodyLength(m: Message): number {
  switch (m.type) {
    case MsgType.Challenge: return 2 + NONCE_BYTES;
    case MsgType.Hello: return HELLO_FIXED + Buffer.byteLength(m.app, 'utf8');
    case MsgType.Welcome: return MAC_BYTES;
    case MsgType.Refuse: return Buffer.byteLength(m.reason, 'utf8');
    case MsgType.Open: return OPEN_BODY;
    case MsgType.Resync: return RESYNC_BODY;
    case MsgType.RecvData:
    case MsgType.SendData: return 8 + m.data.length;
    case MsgType.Update: return UPDATE_BODY;
    case MsgType.Checkpoint: return 4 + 8 + 8 + m.state.length;
    case MsgType.Close: return 4;
    case MsgType.Heartbeat: return 12;
    case MsgType.Confirm: return 8;
  }
}

const OPEN_BODY = 4 + 4 + 2 + 4 + 2 + 4 + 4 + 2 + 1 + 1 + 1 + 4 + 4 + 4 + 4;
const RESYNC_BODY = OPEN_BODY + 8 + 8;
const UPDATE_BODY = 4 + 1 + 4 + 4 + 4 + 4 + 4 + 1;
/** HELLO up to the app's name, which takes the rest of the frame. */
const HELLO_FIXED = 2 + 4 + NONCE_BYTES + MAC_BYTES;

function writeU53(b: Buffer, o: number, v: number): number {
  b.writeUInt32BE(Math.floor(v / 0x100000000), o);
  b.writeUInt32BE(v >>> 0, o + 4);
  return o + 8;
}

function readU53(b: Buffer, o: number): number | DecodeError {
  const hi = b.readUInt32BE(o);
  if (hi > 0x1fffff) return new DecodeError('u53-overflow');
  return hi * 0x100000000 + b.readUInt32BE(o + 4);
}

/** The length check of fixed-size bodies. A plain function, not a closure made per
 *  message: under tsx (the scenarios run from source) each closure is also named at
 *  creation, which cost the backup more than decoding the message. */
function fixed(type: number, n: number, len: number): DecodeError | undefined {
  return n === len ? undefined : new DecodeError(`bad-length:${type}:${n}`);
}

/** Data handed on as a view of what was read when that pins at most twice its own size
 *  (the store bounds a connection by the bytes it holds, rule 7: the memory behind them
 *  stays within a factor of 2); a small piece of a large read is copied out instead. */
export function keep(b: Buffer): Buffer {
  return 2 * b.length >= b.buffer.byteLength ? b : Buffer.from(b);
}

/** Parses one frame body (after the length field). Small fields are copied out; data
 *  is a view of `body` where keep() allows it, unless `copy` (a body about to be
 *  overwritten) asks for copies of everything. */
export function decodeBody(type: number, body: Buffer, copy = false): Message | DecodeError {
  const n = body.length;
  let err: DecodeError | undefined;
  switch (type) {
    case MsgType.Challenge:
      if ((err = fixed(type, n, 2 + NONCE_BYTES))) return err;
      return { type, version: body.readUInt16BE(0), nonce: Buffer.from(body.subarray(2)) };
    case MsgType.Hello:
      if (n < HELLO_FIXED) return new DecodeError(`bad-length:${type}:${n}`);
      if (n - HELLO_FIXED > MAX_APP_NAME_BYTES) return new DecodeError('hello-app-too-long');
      return {
        type,
        version: body.readUInt16BE(0),
        vip: body.readUInt32BE(2),
        nonce: Buffer.from(body.subarray(6, 6 + NONCE_BYTES)),
        mac: Buffer.from(body.subarray(6 + NONCE_BYTES, HELLO_FIXED)),
        app: body.toString('utf8', HELLO_FIXED),
      };
    case MsgType.Welcome:
      if ((err = fixed(type, n, MAC_BYTES))) return err;
      return { type, mac: Buffer.from(body) };
    case MsgType.Refuse:
      if (n > 1024) return new DecodeError('refuse-too-long');
      return { type, reason: body.toString('utf8') };
    case MsgType.Open:
    case MsgType.Resync: {
      if ((err = fixed(type, n, type === MsgType.Open ? OPEN_BODY : RESYNC_BODY))) return err;
      const flags = body[28];
      if (body[26] > 14 || body[27] > 14) return new DecodeError('bad-window-shift');
      if (flags & ~3) return new DecodeError('bad-open-flags');
      // The backup compares sequence numbers up to snd_una + replayWindow: far below 2^31.
      if (body.readUInt32BE(41) > MAX_REPLAY_WINDOW) return new DecodeError('bad-replay-window');
      const open = {
        conn: body.readUInt32BE(0),
        localAddr: body.readUInt32BE(4),
        localPort: body.readUInt16BE(8),
        remoteAddr: body.readUInt32BE(10),
        remotePort: body.readUInt16BE(14),
        iss: body.readUInt32BE(16),
        irs: body.readUInt32BE(20),
        mss: body.readUInt16BE(24),
        sndWndShift: body[26],
        rcvWndShift: body[27],
        sackOk: (flags & 1) !== 0,
        tsOk: (flags & 2) !== 0,
        tsRecent: body.readUInt32BE(29),
        tsLast: body.readUInt32BE(33),
        sndWnd: body.readUInt32BE(37),
        replayWindow: body.readUInt32BE(41),
      };
      if (type === MsgType.Open) return { type, ...open };
      const rcvBase = readU53(body, OPEN_BODY);
      if (rcvBase instanceof DecodeError) return rcvBase;
      const sndBase = readU53(body, OPEN_BODY + 8);
      if (sndBase instanceof DecodeError) return sndBase;
      return { type, ...open, rcvBase, sndBase };
    }
    case MsgType.RecvData:
    case MsgType.SendData:
      if (n < 8) return new DecodeError(`bad-length:${type}:${n}`);
      return { type, conn: body.readUInt32BE(0), seq: body.readUInt32BE(4), data: copy ? Buffer.from(body.subarray(8)) : keep(body.subarray(8)) };
    case MsgType.Update: {
      if ((err = fixed(type, n, UPDATE_BODY))) return err;
      if (body[4] >= STATES.length) return new DecodeError('bad-state');
      if (body[25] > 1) return new DecodeError('bad-fin-flag');
      return {
        type,
        conn: body.readUInt32BE(0),
        state: body[4],
        sndUna: body.readUInt32BE(5),
        sndWnd: body.readUInt32BE(9),
        tsRecent: body.readUInt32BE(13),
        tsLast: body.readUInt32BE(17),
        finSeq: body.readUInt32BE(21),
        finReceived: body[25] === 1,
      };
    }
    case MsgType.Checkpoint: {
      if (n < 20) return new DecodeError(`bad-length:${type}:${n}`);
      const consumed = readU53(body, 4);
      if (consumed instanceof DecodeError) return consumed;
      const produced = readU53(body, 12);
      if (produced instanceof DecodeError) return produced;
      return { type, conn: body.readUInt32BE(0), consumed, produced, state: copy ? Buffer.from(body.subarray(20)) : keep(body.subarray(20)) };
    }
    case MsgType.Close:
      if ((err = fixed(type, n, 4))) return err;
      return { type, conn: body.readUInt32BE(0) };
    case MsgType.Heartbeat: {
      if ((err = fixed(type, n, 12))) return err;
      const sentAt = body.readDoubleBE(4);
      if (!Number.isFinite(sentAt)) return new DecodeError('bad-heartbeat-time');
      return { type, seq: body.readUInt32BE(0), sentAt };
    }
    case MsgType.Confirm: {
      if ((err = fixed(type, n, 8))) return err;
      const upTo = readU53(body, 0);
      if (upTo instanceof DecodeError) return upTo;
      return { type, upTo };
    }
    default:
      return new DecodeError(`unknown-type:${type}`);
  }
}

/**
 * Consumes a byte stream cut at arbitrary points and yields whole messages. After the
 * first error it stays failed: the session must be dropped, since framing is lost.
 * Messages may hold views of the chunks pushed (see keep()): a chunk must not change
 * once pushed (a socket's 'data' chunks never do), unless it is pushed as transient.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed: DecodeError | undefined;

  constructor(private readonly maxFrame = MAX_FRAME) {}

  get error(): DecodeError | undefined {
    return this.failed;
  }

  /** Feeds bytes; returns the messages completed by them, and an error if the stream
   *  went bad (messages before the bad frame are still returned). A `transient` chunk
   *  (a read buffer the caller reuses) may change once push() returns: nothing keeps a
   *  view of it, the messages and an unfinished frame's bytes are copies. */
  push(chunk: Buffer, transient = false): { messages: Message[]; error?: DecodeError } {
    const messages: Message[] = [];
    if (this.failed) return { messages, error: this.failed };
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    while (this.buffered >= 4) {
      const len = this.peekU32();
      if (len < 1 || len > this.maxFrame) {
        this.failed = new DecodeError(len < 1 ? 'empty-frame' : `frame-too-large:${len}`);
        return { messages, error: this.failed };
      }
      if (this.buffered < 4 + len) break;
      const frame = this.consume(4 + len);
      const m = decodeBody(frame[4], frame.subarray(5), transient);
      if (m instanceof DecodeError) {
        this.failed = m;
        return { messages, error: m };
      }
      messages.push(m);
    }
    if (transient && this.buffered > 0) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return { messages };
  }

  private peekU32(): number {
    const first = this.chunks[0];
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = this.consume(4);
    this.chunks.unshift(head);
    this.buffered += 4;
    return head.readUInt32BE(0);
  }

  /** Removes n bytes from the front; copies only when they span chunks. */
  private consume(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let o = 0;
    while (o < n) {
      const c = this.chunks[0];
      const take = Math.min(c.length, n - o);
      c.copy(out, o, 0, take);
      o += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    return out;
  }
}
