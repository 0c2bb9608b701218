// sink (RFC 863 discard, with a receipt): counts and hashes what it receives; when the
// client half-closes it answers one line "<bytes> <sha256hex>\n" and closes, so an
// ordinary kernel client can check that every byte arrived once and in order.
//
// It checkpoints after every chunk: {bytes so far, the SHA-256 state} (hash-wasm can
// save and resume a hash state), so after a takeover the backup's sink continues the
// same hash from the last checkpoint and the receipt covers the whole upload. The
// checkpoint also lets the backup free what was consumed: an upload of any size fits
// in a bounded store (DESIGN rule 7).
import { createSHA256, type IHasher } from 'hash-wasm';
import { z } from 'zod';
import { parseAppOptions, type IntactApp } from '../app.js';
import type { IntactSocket } from '../socket.js';

const Options = z.strictObject({});

interface SinkState {
  bytes: number;
  /** hash-wasm's saved SHA-256 state, base64. */
  sha: string;
}

function serve(socket: IntactSocket, hasher: IHasher, bytes: number, log: { info: (o: object, m: string) => void }): void {
  socket.on('data', (b: Buffer) => {
    bytes += b.length;
    hasher.update(b);
    socket.checkpoint({ bytes, sha: Buffer.from(hasher.save()).toString('base64') } satisfies SinkState);
  });
  socket.on('end', () => {
    const digest = hasher.digest('hex');
    log.info({ remote: `${socket.remoteAddress}:${socket.remotePort}`, bytes, sha256: digest }, 'sink received');
    socket.end(`${bytes} ${digest}\n`);
  });
}

export const sinkApp: IntactApp = {
  name: 'sink',
  description: 'counts and sha256-hashes what it receives; replies "<bytes> <sha256>" after the client half-closes',
  defaultPort: 9,
  // The receipt goes out after the client's FIN.
  serverOptions: { allowHalfOpen: true },
  create(opts, { log }) {
    parseAppOptions('sink', Options, opts);
    // A listener attached after the await is fine: a socket without a 'data' listener
    // does not read, so nothing is missed meanwhile.
    return {
      connection(socket) {
        void createSHA256().then((h) => {
          h.init();
          serve(socket, h, 0, log);
        });
      },
      restore(socket, state) {
        const s = state as SinkState | undefined;
        void createSHA256().then((h) => {
          h.init();
          if (s) h.load(Buffer.from(s.sha, 'base64'));
          serve(socket, h, s?.bytes ?? 0, log);
        });
      },
    };
  },
};
