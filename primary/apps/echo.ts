// echo (RFC 862 style): every byte read is written back; after the client's FIN and
// the last echoed byte, our FIN. pipe() carries the back-pressure: a client that does
// not read stops us reading, and so closes its own window.
import { z } from 'zod';
import { parseAppOptions, type IntactApp } from '../app.js';

const Options = z.strictObject({});

export const echoApp: IntactApp = {
  name: 'echo',
  description: 'writes back what it reads',
  defaultPort: 7,
  create(opts) {
    parseAppOptions('echo', Options, opts);
    return {
      connection(socket) {
        socket.pipe(socket);
      },
    };
  },
};
