// rr: the request/response app of the overhead scenario, intact's twin of the kernel
// reference server's rr mode (scenarios/servers/kernel-server.ts): for every `request`
// bytes read it writes `reply` bytes, the request repeated (or cut) to that length.
// request = reply = 1000 is the thesis' table 4-2 echo; reply = 1 its table 4-3.
//
// Why not the echo app: echo answers each read as it comes, whatever its size, while
// the reply = 1 workloads need a reply per `request` bytes; and rr's checkpoints fall
// on request boundaries. It checkpoints once CHECKPOINT_BYTES more input has been
// consumed, as a real app would (an app that never checkpoints stalls once the store
// is full, DESIGN rule 7: 5,000 exchanges of 1 KB are beyond the default 4 MB): the
// store stays bounded and the cost of checkpoints is spread as in practice, not paid
// per exchange. Its state is empty (a boundary has nothing pending), so restore() is serve().
//   intact primary --app scenarios/apps/rr.ts --app-opt request=256 --app-opt reply=1
import { z } from 'zod';
import { parseAppOptions, type IntactApp } from '../../primary/app.js';
import type { IntactSocket } from '../../primary/socket.js';

const size = (what: string) =>
  z.coerce
    .number({ error: `${what} must be a number of bytes` })
    .int({ error: `${what} must be a whole number of bytes` })
    .min(1, { error: `${what} must be at least 1 byte` })
    .max(16 * 1024 * 1024, { error: `${what} must be at most 16 MB` });

const Options = z.strictObject({
  request: size('request').default(1000),
  reply: size('reply').optional(),
});

/** Input consumed between checkpoints: far below the store's 4 MB default. */
export const CHECKPOINT_BYTES = 256 * 1024;

/** The reply to `req`: the request repeated to `n` bytes. */
export function replyFor(req: Buffer, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i += req.length) req.copy(out, i, 0, Math.min(req.length, n - i));
  return out;
}

function serve(socket: IntactSocket, reqSize: number, replySize: number): void {
  const req = Buffer.alloc(reqSize);
  let have = 0;
  let sinceCheckpoint = 0;
  socket.on('data', (b: Buffer) => {
    let off = 0;
    while (off < b.length) {
      const n = Math.min(reqSize - have, b.length - off);
      b.copy(req, have, off, off + n);
      have += n;
      off += n;
      if (have === reqSize) {
        socket.write(replyFor(req, replySize));
        have = 0;
      }
    }
    sinceCheckpoint += b.length;
    // Only at a boundary: the state then is "nothing pending", true for the replica.
    if (have === 0 && sinceCheckpoint >= CHECKPOINT_BYTES) {
      socket.checkpoint({});
      sinceCheckpoint = 0;
    }
  });
  socket.on('end', () => socket.end());
}

export const rrApp: IntactApp = {
  name: 'rr',
  description: 'for every `request` bytes read, replies `reply` bytes (the request repeated); checkpoints every 256 KB',
  defaultPort: 7,
  serverOptions: { allowHalfOpen: true, noDelay: true },
  create(opts) {
    const o = parseAppOptions('rr', Options, opts);
    const reply = o.reply ?? o.request;
    return {
      connection: (socket) => serve(socket, o.request, reply),
      restore: (socket) => serve(socket, o.request, reply),
    };
  },
};

export default rrApp;
