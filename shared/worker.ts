// Starts a worker thread from a module beside the caller. Compiled (dist/) the .js
// file is there; run from sources through tsx, tsx's hooks do not reach worker
// threads on Node 20, so the worker registers them itself before importing the .ts.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function startWorker(jsUrl: URL, options: WorkerOptions = {}): Worker {
  if (existsSync(fileURLToPath(jsUrl))) return new Worker(jsUrl, options);
  const tsUrl = new URL(jsUrl.href.replace(/\.js$/, '.ts'));
  const tsxApi = new URL('../node_modules/tsx/dist/esm/api/index.mjs', import.meta.url);
  const code =
    `import(${JSON.stringify(tsxApi.href)})` +
    `.then((m) => { m.register(); return import(${JSON.stringify(tsUrl.href)}); })`;
  return new Worker(code, { ...options, eval: true });
}
