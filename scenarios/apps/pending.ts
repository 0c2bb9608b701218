// pending: the app of the takeover scenarios. It keeps every byte a client sent
// "pending" at the backup by never checkpointing, so the backup's store for the
// connection holds the whole input stream at the kill, and the restarted app replays
// it from byte 0 (the cost the thesis' figures 4-2 and 4-3 look at).
//
// Protocol, per connection:
//   client: "hold <N>\n" then N bytes     app: "held\n" once all N have been read
//   client: one byte (a probe)            app: one byte "P" (stop-and-wait probes)
//   client: FIN                           app: "<bytes> <sha256hex>\n" of everything read, FIN
// The app writes "held\n" only after reading the N bytes, and in strict mode a byte
// reaches the wire only after the backup holds it, in order, behind the input it was
// replicated after: a client that has read "held" knows the backup holds the N bytes.
// Replies are a pure function of the input, so after a takeover the replayed replies
// below what the client already has are dropped (DESIGN rule 2), not sent twice.
import { createHash, type Hash } from 'node:crypto';
import { z } from 'zod';
import { parseAppOptions, type IntactApp } from '../../primary/app.js';
import type { IntactSocket } from '../../primary/socket.js';

const Options = z.strictObject({});
/** A header longer than this is not ours: the connection is closed. */
const MAX_HEADER = 64;

function serve(socket: IntactSocket): void {
  const hash: Hash = createHash('sha256');
  let bytes = 0;
  let header = '';
  let want = -1;
  let payload = 0;
  socket.on('data', (b: Buffer) => {
    hash.update(b);
    bytes += b.length;
    let i = 0;
    if (want < 0) {
      const nl = b.indexOf(0x0a);
      header += b.toString('latin1', 0, nl < 0 ? b.length : nl);
      if (nl < 0) {
        if (header.length > MAX_HEADER) socket.destroy();
        return;
      }
      const m = /^hold (\d+)$/.exec(header);
      if (!m) {
        socket.destroy();
        return;
      }
      want = Number(m[1]);
      i = nl + 1;
      if (want === 0) socket.write('held\n');
    }
    const rest = b.length - i;
    if (payload < want) {
      const take = Math.min(rest, want - payload);
      payload += take;
      i += take;
      if (payload === want) socket.write('held\n');
    }
    // Everything after the payload is probes: one reply byte each.
    if (i < b.length) socket.write(Buffer.alloc(b.length - i, 0x50));
  });
  socket.on('end', () => {
    socket.end(`${bytes} ${hash.digest('hex')}\n`);
  });
}

export const pendingApp: IntactApp = {
  name: 'pending',
  description: 'holds all input at the backup (never checkpoints); "held" after N bytes, one byte per probe, a receipt at the end',
  defaultPort: 5001,
  serverOptions: { allowHalfOpen: true, noDelay: true },
  create(opts) {
    parseAppOptions('pending', Options, opts);
    return {
      connection: serve,
      // Never checkpointed: the backup replays the stream from its first byte.
      restore: (socket) => serve(socket),
    };
  },
};

export default pendingApp;
