// http: Node's own http server, unchanged, fed with IntactSockets. It shows that an
// ordinary Node service runs over the user-space stack, and gives curl something to
// fetch in the lab.
//   GET|HEAD /<path>  a file under `root`, with Content-Length, streamed with
//                     back-pressure; 404 for anything else (no traversal out of root)
//   PUT /sha256       {"length":N,"sha256":"..."} of the request body
//
// Checkpoints (issue 4's API, rule 4). Without one, a rebuilt connection replays from
// its first byte: Node's parser reads the request again and the whole response is
// produced again, only for rule 2 to drop what the client already has. Measured before
// this existed (`intact demo --mb 1000 --kill-at 0.9`): stalls of 266 and 438 ms, most
// of it regenerating 900 MB. So a download checkpoints every `checkpointBytes` of body
// (default 32 MiB; 0: never) with {request path, file size, where its body starts}: the
// restored app resumes the body at (produced − bodyStart), from the file, and then hands
// the connection to the http server for whatever the client sends next.
//
// A checkpoint must describe exactly what was consumed and produced (socket.checkpoint),
// and Node's http server does not say how many input bytes a request took, nor whether a
// response's bytes went to the socket at once. So a download checkpoints only when both
// can be seen to hold: no later request has been parsed; the input consumed so far ends
// exactly at the end of this request's head; and the bytes written to the socket are the
// header block plus the body so far. The input is followed by counting blank-line
// terminators (`\r\n\r\n`; Node refuses heads ending otherwise): every head has one,
// so when there are exactly as many as requests parsed, none is in a body and the last
// ends the last head. A body holding one (or a chunked body's end) makes the counts
// differ for good: that connection checkpoints no more. Otherwise it just does not
// checkpoint (and the connection replays from its last checkpoint, or its first byte,
// as before).
// The file is found again by the request's path and must have the same size; that the
// primary and the backup serve the same content is the deployment's duty (as for any
// regenerated reply). A file that changed size resets the connection on resume.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import { resolve, sep } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { z } from 'zod';
import type { Logger } from '../../shared/log.js';
import type { IntactSocket } from '../socket.js';
import { parseAppOptions, type IntactApp } from '../app.js';
import { checkpointBytesOption, EveryBytes } from './every-bytes.js';

export const DEFAULT_CHECKPOINT_BYTES = 32 * 1024 * 1024;

const Options = z.strictObject({
  root: z.string().min(1, { error: 'must be a directory path' }).optional(),
  checkpointBytes: checkpointBytesOption(DEFAULT_CHECKPOINT_BYTES),
});

/** The state of a download's checkpoint. The offset in the body is not in it: it is
 *  the checkpoint's produced position minus bodyStart, both stream positions. */
const DownloadState = z.strictObject({
  v: z.literal(1),
  /** The request's path, as the client sent it (resolved under root again). */
  get: z.string(),
  size: z.number().int().min(0),
  /** Send-stream position of the body's first byte (after the header block). */
  bodyStart: z.number().int().min(0),
  /** Whether the http server would have kept the connection open after the response. */
  keepAlive: z.boolean(),
});
type DownloadState = z.infer<typeof DownloadState>;

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

const HEAD_END = Buffer.from('\r\n\r\n');
/** A connection's input is followed for this many bytes (Node's own limit on one
 *  request head is 16 KiB); past it, it checkpoints no more. */
const MAX_SCANNED = 64 * 1024;

/** Watches the input a connection's app consumed, request head after request head,
 *  to tell when it ends exactly at the end of the last head parsed (see the top). */
class RequestHeads {
  /** Bytes consumed so far (stream positions), while followed. */
  private seen: number;
  private tail = Buffer.alloc(0);
  /** Terminators seen, and where the last ends. */
  private ends = 0;
  private endAt: number;
  /** Requests the http server parsed since the watch began. */
  requests = 0;

  /** From `start`: the connection's first byte, or where a restored one resumes. */
  constructor(readonly socket: IntactSocket, private readonly start: number) {
    this.seen = start;
    this.endAt = start;
  }

  /** Followed while the heads are short; a long-lived connection stops being followed. */
  get following(): boolean {
    return this.ends <= this.requests + 1 && this.seen - this.start <= MAX_SCANNED;
  }

  push(chunk: Buffer): void {
    if (!this.following) return;
    const buf = Buffer.concat([this.tail, chunk]);
    const base = this.seen - this.tail.length;
    for (let i = buf.indexOf(HEAD_END); i >= 0; i = buf.indexOf(HEAD_END, i + 1)) {
      if (base + i + 4 <= this.endAt) continue;
      this.ends++;
      this.endAt = base + i + 4;
    }
    this.seen += chunk.length;
    this.tail = buf.subarray(Math.max(0, buf.length - 3));
  }

  /** The input consumed ends exactly at the end of request `n`'s head (the n-th since
   *  the watch began), the last one parsed. */
  endsAtRequest(n: number, consumed: number): boolean {
    return this.following && this.requests === n && this.ends === n && this.endAt === consumed && this.seen === consumed;
  }
}

/** The connections the app follows, by socket. */
const requestHeads = new WeakMap<object, RequestHeads>();

/** Restored keep-alive connections still on the keep-alive timeout resumeDownload gave
 *  them: the next request clears it, as Node's server clears its own. */
const awaitingRequest = new WeakSet<object>();

/** Follows a connection's request heads from `start` (RequestHeads). */
function watchHeads(socket: IntactSocket, start: number): void {
  const heads = new RequestHeads(socket, start);
  requestHeads.set(socket, heads);
  const onData = (b: Buffer) => {
    heads.push(b);
    if (!heads.following) socket.off('data', onData);
  };
  socket.on('data', onData);
}

/** Checkpoints of one download: every `every` body bytes (EveryBytes), when the
 *  socket's output is exactly the header block and the body so far and `exactInput`
 *  holds (top of the file). `body`: body bytes already out (a restored download). */
function bodyCheckpoints(socket: IntactSocket, state: DownloadState, every: number, body: number, exactInput: () => boolean): EveryBytes {
  return new EveryBytes(socket, every, body, (done) => socket.positions.produced === state.bodyStart + done && exactInput(), () => state);
}

/** `n`: the request's number on its connection (RequestHeads), taken when it was parsed:
 *  by the time the file is found, later requests may have been. */
async function serveFile(root: string | undefined, every: number, n: number, req: http.IncomingMessage, res: http.ServerResponse, log: Logger) {
  const urlPath = new URL(req.url ?? '/', 'http://x').pathname;
  const path = root === undefined ? undefined : await resolveUnder(root, urlPath);
  if (path === undefined) return reply(res, 404, 'not found\n');
  const st = await stat(path);
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': st.size });
  if (req.method === 'HEAD') return res.end();
  const src = createReadStream(path, { highWaterMark: 256 * 1024 });
  const heads = requestHeads.get(req.socket);
  let cps: EveryBytes | undefined;
  // A file no longer than the interval never reaches a checkpoint: it is sent as before,
  // the header block held back to leave with the body's first bytes.
  if (every > 0 && st.size > every && heads?.following) {
    // The header block goes now, on its own: where the body starts is then known.
    res.flushHeaders();
    const socket = heads.socket;
    const state: DownloadState = {
      v: 1, get: req.url ?? '/', size: st.size, bodyStart: socket.positions.produced, keepAlive: res.shouldKeepAlive,
    };
    cps = bodyCheckpoints(socket, state, every, 0, () => heads.endsAtRequest(n, socket.positions.consumed));
  }
  pipeline(src, res, (err) => {
    if (err) log.debug({ err: (err as NodeJS.ErrnoException).code ?? err.message, path }, 'download stopped');
  });
  if (cps) {
    const c = cps;
    // After pipe's own 'data' listener (pipeline added it): res.write has taken each
    // chunk when this one runs.
    src.on('data', (b) => c.add(b.length));
    res.on('close', () => c.stop());
  }
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

/** A download's checkpoint on a rebuilt connection: the rest of the body from the file,
 *  then the connection goes on as the http server would have it. */
async function resumeDownload(root: string | undefined, every: number, socket: IntactSocket, s: DownloadState, server: http.Server, log: Logger) {
  const offset = socket.positions.produced - s.bodyStart;
  const path = root === undefined ? undefined : await resolveUnder(root, new URL(s.get, 'http://x').pathname);
  const st = path === undefined ? undefined : await stat(path);
  // The client may have reset the connection while we looked for the file.
  if (socket.destroyed) return;
  if (path === undefined || !st || st.size !== s.size || offset < 0 || offset > s.size) {
    // Resuming would send the client bytes of another file than its Content-Length and
    // first bytes promised: a reset is honest, a corrupt download is not.
    log.warn({ get: s.get, offset, size: s.size, now: st?.size }, 'download cannot resume: the file changed or is gone: connection reset');
    socket.resetAndDestroy();
    return;
  }
  const cps = bodyCheckpoints(socket, s, every, offset, () => true);
  let src: Readable | undefined;
  const resume = () => src?.resume();
  const gone = () => {
    cps.stop();
    src?.destroy();
  };
  const done = () => {
    cps.stop();
    socket.off('drain', resume);
    socket.off('close', gone);
    // As Node's http server would go on: the next request, or our FIN and, once it is
    // queued, the socket's end (destroySoon, which its server calls).
    if (s.keepAlive) {
      watchHeads(socket, socket.positions.consumed);
      server.emit('connection', socket);
      // Node's server gives a connection its keep-alive timeout when a response ends,
      // and this one's ended before the server had it: without this, an idle client
      // would hold it until the server's headersTimeout (60 s) instead of 5 s.
      socket.setTimeout(server.keepAliveTimeout);
      awaitingRequest.add(socket);
    } else {
      socket.destroySoon();
    }
  };
  if (offset === s.size) return done();
  src = createReadStream(path, { start: offset, highWaterMark: 256 * 1024 });
  src.on('data', (b) => {
    if (typeof b === 'string') return; // no encoding was set
    const more = socket.write(b);
    cps.add(b.length);
    if (!more) src?.pause();
  });
  socket.on('drain', resume);
  socket.on('close', gone);
  src.on('end', done);
  src.on('error', (err) => {
    log.warn({ err: err.message, path }, 'download stopped on restore');
    socket.destroy();
  });
}

export const httpApp: IntactApp = {
  name: 'http',
  description: 'Node http server: GET files under --app-opt root=<dir> (checkpointBytes=N: a download checkpoints every N body bytes), PUT /sha256 hashes the body',
  defaultPort: 80,
  create(opts, { log }) {
    const { root, checkpointBytes } = parseAppOptions('http', Options, opts);
    if (root === undefined) log.warn('no --app-opt root=<dir>: every GET is 404');
    const server = http.createServer((req, res) => {
      // Replies are a pure function of the request and the files: after a takeover the
      // backup replays the request and regenerates the response, and the bytes the
      // client already has are dropped by position (rule 2) — a Date header would make
      // the replay differ from the original.
      res.sendDate = false;
      const heads = requestHeads.get(req.socket);
      if (heads) heads.requests++;
      if (awaitingRequest.delete(req.socket)) req.socket.setTimeout(0);
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (req.method === 'PUT' && path === '/sha256') return hashBody(req, res);
      if (req.method === 'GET' || req.method === 'HEAD') {
        serveFile(root, checkpointBytes, heads?.requests ?? 0, req, res, log).catch((err: Error) => {
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
        watchHeads(socket, 0);
        server.emit('connection', socket);
      },
      // No checkpoint: a rebuilt connection replays from its first byte (the store
      // keeps the whole request), and Node's http parser reads the request again.
      restore(socket, state) {
        if (state === undefined || state === null) return this.connection(socket);
        const s = DownloadState.parse(state);
        resumeDownload(root, checkpointBytes, socket, s, server, log).catch((err: Error) => {
          log.warn({ err: err.message }, 'download resume failed: connection reset');
          socket.resetAndDestroy();
        });
      },
      close() {
        server.closeAllConnections();
      },
    };
  },
};
