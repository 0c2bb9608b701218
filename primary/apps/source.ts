// source (RFC 864 chargen, made checkable): sends `bytes` bytes of the seeded stream
// `seed` (shared/stream.ts), then closes. The client regenerates the stream to verify.
// What the client sends is read and dropped, so its window never closes on us.
//
// Checkpoints (issue 4): every `checkpointBytes` sent (default 32 MiB, as the http app's
// downloads; 0: never) it records {seed, bytes}; the offset is the checkpoint's produced
// position, since everything this app writes is the stream. A restored connection
// resumes the stream there (the generator starts at any offset) instead of producing
// it all again from byte 0 only for rule 2 to drop what the client holds: a takeover
// late in a long stream costs the client at most an interval of regeneration, and a
// connection the backup lost is taken on again by a new one at its next checkpoint.
// The restore follows the checkpoint's stream, not this process's options: it is the
// stream the client was promised.
import { z } from 'zod';
import { parseAppOptions, type IntactApp } from '../app.js';
import type { IntactSocket } from '../socket.js';
import { seededChunks } from '../../shared/stream.js';
import { checkpointBytesOption, EveryBytes } from './every-bytes.js';

export const DEFAULT_SOURCE_CHECKPOINT_BYTES = 32 * 1024 * 1024;

const Options = z.strictObject({
  bytes: z.coerce
    .number({ error: 'must be a number of bytes' })
    .int({ error: 'must be a whole number of bytes' })
    .nonnegative({ error: 'must be >= 0' })
    .max(Number.MAX_SAFE_INTEGER)
    .default(1 << 20),
  seed: z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(0, { error: 'must be in [0, 2^32)' })
    .max(0xffffffff, { error: 'must be in [0, 2^32)' })
    .default(1),
  checkpointBytes: checkpointBytesOption(DEFAULT_SOURCE_CHECKPOINT_BYTES),
});

const SourceState = z.strictObject({
  v: z.literal(1),
  seed: z.number().int().min(0).max(0xffffffff),
  bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});
type SourceState = z.infer<typeof SourceState>;

/** Writes the stream from `start` with back-pressure, then our FIN. */
function send(socket: IntactSocket, s: SourceState, start: number, every: number): void {
  socket.resume();
  const chunks = seededChunks(s.seed, s.bytes, start);
  // Exact whenever everything written is the stream up to `done`: always, as long as
  // nothing else writes to the socket; checked rather than assumed.
  const cps = new EveryBytes(socket, every, start, (done) => socket.positions.produced === done, () => s);
  const pump = () => {
    for (;;) {
      // Gone (the runtime listens for its error): no drain will come.
      if (socket.destroyed || !socket.writable) return;
      const next = chunks.next();
      if (next.done) {
        cps.stop();
        socket.end();
        return;
      }
      const more = socket.write(next.value);
      cps.add(next.value.length);
      if (!more) return; // 'drain' pumps again
    }
  };
  socket.on('drain', pump);
  pump();
}

export const sourceApp: IntactApp = {
  name: 'source',
  description: 'sends --app-opt bytes=N bytes of the seeded stream --app-opt seed=S, then closes (checkpointBytes=N: a checkpoint every N bytes sent)',
  defaultPort: 19,
  // The client may half-close at once; we still send everything.
  serverOptions: { allowHalfOpen: true },
  create(opts, { log }) {
    const { bytes, seed, checkpointBytes } = parseAppOptions('source', Options, opts);
    const mine: SourceState = { v: 1, seed, bytes };
    return {
      connection(socket) {
        send(socket, mine, 0, checkpointBytes);
      },
      restore(socket, state) {
        // No checkpoint: the stream from its first byte (rule 2 drops what the client has).
        if (state === undefined || state === null) return this.connection(socket);
        const s = SourceState.parse(state);
        const at = socket.positions.produced;
        if (at > s.bytes) {
          log.warn({ at, bytes: s.bytes }, 'source checkpoint past the end of its stream: connection reset');
          socket.resetAndDestroy();
          return;
        }
        send(socket, s, at, checkpointBytes);
      },
    };
  },
};
