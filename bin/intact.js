#!/usr/bin/env node
// The `intact` command. It runs the compiled CLI in dist/; `npm run build` makes it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/intact.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('intact: not built yet: run `npm run build` in ' + fileURLToPath(new URL('..', import.meta.url)) + '\n');
  process.exit(1);
}
await import(entry.href);
