// echo (RFC 862 style): every byte read is written back; after the client's FIN and
// the last echoed byte, our FIN. pipe() carries the back-pressure: a client that does
// not read stops us reading, and so closes its own window.
//
// Checkpoints (issue 4): echo has no state, but a connection that never checkpoints
// keeps all its input on the backup (the restored echo must read it all again) and
// stalls once that fills the store's bound (DESIGN rule 7), and one the backup lost is
// never taken on again. So every `checkpointBytes` echoed (default 256 KiB, far below
// the store's 4 MiB; 0: never) it checkpoints where what it read and what it wrote
// back meet; a restored connection simply echoes on from there.
import { z } from 'zod';
import { parseAppOptions, type IntactApp } from '../app.js';
import type { IntactSocket } from '../socket.js';
import { checkpointBytesOption, EveryBytes } from './every-bytes.js';

export const DEFAULT_ECHO_CHECKPOINT_BYTES = 256 * 1024;

const Options = z.strictObject({
  checkpointBytes: checkpointBytesOption(DEFAULT_ECHO_CHECKPOINT_BYTES),
});

function serve(socket: IntactSocket, every: number): void {
  socket.pipe(socket);
  if (every === 0) return;
  const start = socket.positions.consumed;
  // Exact where every byte handed to us has been written back (pipe writes each chunk
  // in its 'data' listener; a paused pipe holds the rest in the readable side, unread).
  const cps = new EveryBytes(socket, every, start, () => socket.positions.consumed === socket.positions.produced, () => null);
  // After pipe's own 'data' listener: the chunk is written when this one runs.
  socket.on('data', (b: Buffer) => cps.add(b.length));
}

export const echoApp: IntactApp = {
  name: 'echo',
  description: 'writes back what it reads (checkpointBytes=N: a checkpoint every N bytes echoed)',
  defaultPort: 7,
  create(opts) {
    const { checkpointBytes } = parseAppOptions('echo', Options, opts);
    return {
      connection(socket) {
        serve(socket, checkpointBytes);
      },
      // The state is nothing: where to go on from is in the checkpoint's positions.
      restore(socket) {
        serve(socket, checkpointBytes);
      },
    };
  },
};
