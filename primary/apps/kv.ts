// kv: the checkpoint API's tutorial. A line protocol over TCP:
//   SET <key> <value>  -> OK        GET <key> -> <value> or NIL
//   INCR <key>         -> the new integer (ERR not an integer, if it is not one)
// one reply line per command. Every command is applied exactly once across any
// number of takeovers, which takes three habits:
//   1. the state (the keys, and the bytes of an unfinished line) is plain data that
//      restore() can rebuild from;
//   2. after handling a chunk, write the replies THEN checkpoint: the checkpoint says
//      "consumed up to here, produced up to here, and this is the state", atomically;
//   3. replies are a pure function of (state, input), so when the backup replays the
//      input after the last checkpoint, it produces the same bytes, and those below
//      what the client already has are dropped (rule 2), not sent twice.
// Each connection has its own keyspace: its checkpoint is then atomic by itself. A
// store shared by connections would need one checkpoint across them (not provided).
import { z } from 'zod';
import { parseAppOptions, type IntactApp } from '../app.js';
import type { IntactSocket } from '../socket.js';

const Options = z.strictObject({
  maxLine: z.coerce.number().int().min(16).max(1 << 20).default(65536),
});

export interface KvState {
  data: Record<string, string>;
  /** Bytes of an unfinished command line, base64. */
  partial: string;
}

/** Applies one command line; returns the reply line without its newline. */
export function applyCommand(data: Map<string, string>, line: string): string {
  const sp = line.indexOf(' ');
  const cmd = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
  const rest = sp < 0 ? '' : line.slice(sp + 1);
  switch (cmd) {
    case 'SET': {
      const sp2 = rest.indexOf(' ');
      if (sp2 <= 0) return 'ERR usage: SET <key> <value>';
      data.set(rest.slice(0, sp2), rest.slice(sp2 + 1));
      return 'OK';
    }
    case 'GET':
      if (!rest || rest.includes(' ')) return 'ERR usage: GET <key>';
      return data.get(rest) ?? 'NIL';
    case 'INCR': {
      if (!rest || rest.includes(' ')) return 'ERR usage: INCR <key>';
      const cur = data.get(rest) ?? '0';
      if (!/^-?\d+$/.test(cur)) return 'ERR not an integer';
      const next = (BigInt(cur) + 1n).toString();
      data.set(rest, next);
      return next;
    }
    default:
      return `ERR unknown command ${JSON.stringify(cmd.slice(0, 32))}`;
  }
}

function serve(socket: IntactSocket, state: KvState, maxLine: number): void {
  const data = new Map(Object.entries(state.data));
  let partial = Buffer.from(state.partial, 'base64');
  socket.on('data', (chunk: Buffer) => {
    let buf = partial.length ? Buffer.concat([partial, chunk]) : chunk;
    const replies: string[] = [];
    let nl: number;
    while ((nl = buf.indexOf(10)) >= 0) {
      const line = buf.subarray(0, nl).toString('utf8').replace(/\r$/, '');
      buf = buf.subarray(nl + 1);
      if (line.length > 0) replies.push(applyCommand(data, line));
    }
    partial = Buffer.from(buf);
    if (partial.length > maxLine) {
      socket.end('ERR line too long\n');
      return;
    }
    if (replies.length) socket.write(replies.join('\n') + '\n');
    socket.checkpoint({ data: Object.fromEntries(data), partial: partial.toString('base64') } satisfies KvState);
  });
  socket.on('end', () => socket.end());
  socket.on('error', () => undefined);
}

export const kvApp: IntactApp = {
  name: 'kv',
  description: 'a key-value store whose state survives takeovers (SET/GET/INCR lines)',
  defaultPort: 4000,
  serverOptions: { allowHalfOpen: true, noDelay: true },
  create(opts) {
    const o = parseAppOptions('kv', Options, opts);
    return {
      connection(socket) {
        serve(socket, { data: {}, partial: '' }, o.maxLine);
      },
      restore(socket, state) {
        const s = (state ?? { data: {}, partial: '' }) as KvState;
        serve(socket, s, o.maxLine);
      },
    };
  },
};
