// http: Node's own http server, unchanged, fed with IntactSockets. It shows that an
// ordinary Node service runs over the user-space stack, and gives curl something to
// fetch in the lab.
//   GET|HEAD /<path>  a file under `root`, with Content-Length, streamed with
//                     back-pressure; 404 for anything else (no traversal out of root)
//   PUT /sha256       {"length":N,"sha256":"..."} of the request body
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import { resolve, sep } from 'node:path';
import { pipeline } from 'node:stream';
import { z } from 'zod';
import type { Logger } from '../../shared/log.js';
import { parseAppOptions, type IntactApp } from '../app.js';

const Options = z.strictObject({
  root: z.string().min(1, { error: 'must be a directory path' }).optional(),
});

function reply(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** The real path of the file `urlPath` names under `root`, or undefined when it is not
 *  a regular file inside root (missing, a directory, or escaping through .. or a symlink). */
export async function resolveUnder(root: string, urlPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const rootReal = await realpath(root);
  const candidate = resolve(rootReal, '.' + (decoded.startsWith('/') ? decoded : '/' + decoded));
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    return undefined;
  }
  if (!real.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep)) return undefined;
  const st = await stat(real);
  return st.isFile() ? real : undefined;
}

async function serveFile(root: string | undefined, req: http.IncomingMessage, res: http.ServerResponse, log: Logger) {
  const path = root === undefined ? undefined : await resolveUnder(root, new URL(req.url ?? '/', 'http://x').pathname);
  if (path === undefined) return reply(res, 404, 'not found\n');
  const st = await stat(path);
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': st.size });
  if (req.method === 'HEAD') return res.end();
  pipeline(createReadStream(path, { highWaterMark: 256 * 1024 }), res, (err) => {
    if (err) log.debug({ err: (err as NodeJS.ErrnoException).code ?? err.message, path }, 'download stopped');
  });
}

function hashBody(req: http.IncomingMessage, res: http.ServerResponse): void {
  const hash = createHash('sha256');
  let length = 0;
  req.on('data', (b: Buffer) => {
    length += b.length;
    hash.update(b);
  });
  req.on('end', () => reply(res, 200, JSON.stringify({ length, sha256: hash.digest('hex') }) + '\n', 'application/json'));
}

export const httpApp: IntactApp = {
  name: 'http',
  description: 'Node http server: GET files under --app-opt root=<dir>, PUT /sha256 hashes the body',
  defaultPort: 80,
  create(opts, { log }) {
    const { root } = parseAppOptions('http', Options, opts);
    if (root === undefined) log.warn('no --app-opt root=<dir>: every GET is 404');
    const server = http.createServer((req, res) => {
      // Replies are a pure function of the request and the files: after a takeover the
      // backup replays the request and regenerates the response, and the bytes the
      // client already has are dropped by position (rule 2) — a Date header would make
      // the replay differ from the original.
      res.sendDate = false;
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (req.method === 'PUT' && path === '/sha256') return hashBody(req, res);
      if (req.method === 'GET' || req.method === 'HEAD') {
        serveFile(root, req, res, log).catch((err: Error) => {
          log.warn({ err: err.message }, 'GET failed');
          if (!res.headersSent) reply(res, 500, 'internal error\n');
          else res.destroy();
        });
        return;
      }
      req.resume();
      res.setHeader('Allow', 'GET, HEAD, PUT');
      reply(res, 405, 'method not allowed\n');
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      log.debug({ err: err.code ?? err.message }, 'http client error');
      socket.destroy();
    });
    return {
      connection(socket) {
        server.emit('connection', socket);
      },
      // Without checkpoints, a rebuilt connection replays from its first byte (the store
      // keeps the whole request): Node's http parser reads the request again.
      restore(socket) {
        server.emit('connection', socket);
      },
      close() {
        server.closeAllConnections();
      },
    };
  },
};
