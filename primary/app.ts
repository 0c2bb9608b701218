// Applications that intact serves: a small interface so `intact primary --app <name>`
// loads a built-in (primary/apps/) by name and `--app ./my-app.js` loads any module
// whose default export (or `app` export) is an IntactApp.
//
// An app never listens itself: the runtime owns the server and hands it each
// connection. That is what lets the backup (issue 4) hand the same app a connection it
// rebuilt after a takeover, through restore(), instead of a fresh accept.
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { IntactError } from '../shared/errors.js';
import { logger, type Logger } from '../shared/log.js';
import { createServer, type IntactServer, type ListenRuntime, type ServerOptions } from './server.js';
import type { IntactSocket } from './socket.js';

export interface AppContext {
  /** The port the app is served on (its defaultPort unless --port said otherwise). */
  readonly port: number;
  readonly log: Logger;
}

export interface AppInstance {
  /** A new client connection. */
  connection(socket: IntactSocket): void;
  /** Issue 4: a connection rebuilt after takeover, with the app's last checkpoint. */
  restore?(socket: IntactSocket, state: unknown): void;
  /** The app stops (SIGTERM, runtime close); open sockets are closed by the runtime. */
  close?(): void | Promise<void>;
}

export interface IntactApp {
  readonly name: string;
  readonly description: string;
  readonly defaultPort: number;
  /** Server options the app depends on, e.g. allowHalfOpen for a reply after the client's FIN. */
  readonly serverOptions?: Pick<ServerOptions, 'allowHalfOpen' | 'noDelay'>;
  /** Validates `opts` (from --app-opt key=value) and builds the app. Throws
   *  ERR_INTACT_APP_OPTION on bad options. */
  create(opts: Record<string, string>, ctx: AppContext): AppInstance;
}

/** Parse `opts` with an app's zod schema; errors name the app and every bad option. */
export function parseAppOptions<S extends z.ZodType>(app: string, schema: S, opts: Record<string, string>): z.output<S> {
  const r = schema.safeParse(opts);
  if (r.success) return r.data;
  const why = r.error.issues
    .map((i) => {
      if (i.code === 'unrecognized_keys') return `unknown option(s) ${i.keys.join(', ')}`;
      const key = i.path.length ? String(i.path[0]) : '(options)';
      return `${key}: ${i.message}`;
    })
    .join('; ');
  throw new IntactError('ERR_INTACT_APP_OPTION', `app ${app}: ${why}`);
}

/** ["bytes=10", "seed=1"] -> { bytes: "10", seed: "1" }. */
export function parseAppOptPairs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new IntactError('ERR_INTACT_APP_OPTION', `--app-opt needs key=value, got "${p}"`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

const BUILTINS: Record<string, () => Promise<IntactApp>> = {
  echo: async () => (await import('./apps/echo.js')).echoApp,
  sink: async () => (await import('./apps/sink.js')).sinkApp,
  source: async () => (await import('./apps/source.js')).sourceApp,
  http: async () => (await import('./apps/http.js')).httpApp,
  kv: async () => (await import('./apps/kv.js')).kvApp,
};

export const BUILTIN_APPS = Object.keys(BUILTINS);

function isIntactApp(v: unknown): v is IntactApp {
  const a = v as Partial<IntactApp> | undefined;
  return (
    typeof a === 'object' &&
    a !== null &&
    typeof a.name === 'string' &&
    typeof a.create === 'function' &&
    Number.isInteger(a.defaultPort)
  );
}

/** A built-in by name, or a module path (relative to the working directory). */
export async function loadApp(nameOrModule: string): Promise<IntactApp> {
  const builtin = BUILTINS[nameOrModule];
  if (builtin) return builtin();
  if (!/[./\\]/.test(nameOrModule)) {
    throw new IntactError(
      'ERR_INTACT_APP',
      `unknown app "${nameOrModule}": built-ins are ${BUILTIN_APPS.join(', ')}; or give a module path`,
    );
  }
  const path = isAbsolute(nameOrModule) ? nameOrModule : resolve(nameOrModule);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    throw new IntactError('ERR_INTACT_APP', `cannot load app module ${path}: ${(e as Error).message}`, { cause: e });
  }
  const app = mod.default ?? mod.app;
  if (!isIntactApp(app)) {
    throw new IntactError(
      'ERR_INTACT_APP',
      `app module ${path} must export (default or "app") an object { name, defaultPort, create(opts, ctx) }`,
    );
  }
  return app;
}

export interface ServedApp {
  readonly app: IntactApp;
  readonly instance: AppInstance;
  readonly server: IntactServer;
  readonly port: number;
  /** Stop accepting, close the app, destroy open sockets. */
  close(): Promise<void>;
}

/** Build the app and serve it on `port` (default: the app's) of the runtime's VIP.
 *  Resolves once listening. */
export interface PreparedApp {
  readonly app: IntactApp;
  readonly instance: AppInstance;
  readonly port: number;
  readonly log: Logger;
}

/** Validate the options and build the app, before any link is opened: a typo in
 *  --app-opt fails fast, without root and without touching the network. */
export function prepareApp(app: IntactApp, opts: { port?: number; options?: Record<string, string> } = {}): PreparedApp {
  const port = opts.port ?? app.defaultPort;
  const log = logger('app', { app: app.name });
  const instance = app.create(opts.options ?? {}, { port, log });
  return { app, instance, port, log };
}

export async function serveApp(
  app: IntactApp | PreparedApp,
  opts: { runtime: ListenRuntime; port?: number; options?: Record<string, string>; serverOptions?: Partial<ServerOptions> },
): Promise<ServedApp> {
  const prepared = 'instance' in app ? app : prepareApp(app, opts);
  const { instance, port, log } = prepared;
  app = prepared.app;
  const server = createServer({ ...app.serverOptions, ...opts.serverOptions, runtime: opts.runtime }, (socket) => {
    // An app that forgets an error listener must not take the process down with it.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      log.debug({ err: err.code ?? err.message, remote: `${socket.remoteAddress}:${socket.remotePort}` }, 'socket error');
    });
    try {
      instance.connection(socket);
    } catch (err) {
      log.error({ err }, 'app failed on a new connection');
      socket.destroy();
    }
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  server.on('error', (err) => log.error({ err }, 'server error'));
  return {
    app,
    instance,
    server,
    port,
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      await instance.close?.();
      for (const s of server.connections()) s.destroy();
      await closed;
    },
  };
}
