// sink (RFC 863 discard, with a receipt): counts and hashes what it receives; when the
// client half-closes it answers one line "<bytes> <sha256hex>\n" and closes, so an
// ordinary kernel client can check that every byte arrived once and in order.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseAppOptions, type IntactApp } from '../app.js';

const Options = z.strictObject({});

export const sinkApp: IntactApp = {
  name: 'sink',
  description: 'counts and sha256-hashes what it receives; replies "<bytes> <sha256>" after the client half-closes',
  defaultPort: 9,
  // The receipt goes out after the client's FIN.
  serverOptions: { allowHalfOpen: true },
  create(opts, { log }) {
    parseAppOptions('sink', Options, opts);
    return {
      connection(socket) {
        const hash = createHash('sha256');
        let bytes = 0;
        socket.on('data', (b: Buffer) => {
          bytes += b.length;
          hash.update(b);
        });
        socket.on('end', () => {
          const digest = hash.digest('hex');
          log.info({ remote: `${socket.remoteAddress}:${socket.remotePort}`, bytes, sha256: digest }, 'sink received');
          socket.end(`${bytes} ${digest}\n`);
        });
      },
    };
  },
};
