// busy: the sink app (count, sha256, checkpoint per chunk, receipt) on a primary whose
// main thread is also kept busy: once the first client connects, the event loop is
// blocked by a busy-wait of `blockMs` every `periodMs`. Longer than any dead time we
// test, so a heartbeat that depended on the main thread would be declared dead: the
// detection scenario counts takeovers that happen while this primary is alive.
// The busy-wait starts on the first connection, not at create(): the backup builds its
// app instance at start and must not spin while it only watches.
import { z } from 'zod';
import { parseAppOptions, type IntactApp } from '../../primary/app.js';
import { sinkApp } from '../../primary/apps/sink.js';

const Options = z.strictObject({
  blockMs: z.coerce.number().int().min(0).max(10_000).default(200),
  periodMs: z.coerce.number().int().min(1).max(60_000).default(400),
});

export const busyApp: IntactApp = {
  name: 'busy',
  description: 'sink whose main thread busy-waits blockMs every periodMs once a client has connected',
  defaultPort: 5002,
  serverOptions: sinkApp.serverOptions,
  create(opts, ctx) {
    const o = parseAppOptions('busy', Options, opts);
    const sink = sinkApp.create({}, ctx);
    let timer: NodeJS.Timeout | undefined;
    const spin = () => {
      const end = performance.now() + o.blockMs;
      while (performance.now() < end) {
        // the point: nothing else runs on this thread meanwhile
      }
    };
    return {
      connection(socket) {
        if (!timer && o.blockMs > 0) timer = setInterval(spin, o.periodMs);
        sink.connection(socket);
      },
      restore: sink.restore,
      close() {
        if (timer) clearInterval(timer);
        return sink.close?.();
      },
    };
  },
};

export default busyApp;
