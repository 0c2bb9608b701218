// source (RFC 864 chargen, made checkable): sends `bytes` bytes of the seeded stream
// `seed` (shared/stream.ts), then closes. The client regenerates the stream to verify.
// What the client sends is read and dropped, so its window never closes on us.
import { pipeline } from 'node:stream';
import { z } from 'zod';
import { parseAppOptions, type IntactApp } from '../app.js';
import { seededStream } from '../../shared/stream.js';

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
});

export const sourceApp: IntactApp = {
  name: 'source',
  description: 'sends --app-opt bytes=N bytes of the seeded stream --app-opt seed=S, then closes',
  defaultPort: 19,
  // The client may half-close at once; we still send everything.
  serverOptions: { allowHalfOpen: true },
  create(opts, { log }) {
    const { bytes, seed } = parseAppOptions('source', Options, opts);
    return {
      connection(socket) {
        socket.resume();
        pipeline(seededStream(seed, bytes), socket, (err) => {
          if (err) log.debug({ err: (err as NodeJS.ErrnoException).code ?? err.message }, 'source stopped early');
        });
      },
    };
  },
};
