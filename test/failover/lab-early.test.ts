// kill -9 of the primary the moment it says it is serving, protected: the backup must
// still declare it dead and take over. Regression: the backup starts a primary's life
// from heartbeats only, and the primary's heartbeat thread used to start beating a few
// hundred ms after "serving ... (protected by the backup ...)"; a primary killed in
// between was never declared dead, and a client connected to it hung for ever.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootOnly } from '../helpers/root.js';
import { withLab } from '../../lab/topology.js';
import { Pair } from './lib/pair.js';

const ROUNDS = 3;

t.test('a primary killed right after it starts serving is still taken over', rootOnly(), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'intact-failover-early-'));
  let failed = false;
  try {
    await withLab({}, async (lab) => {
      for (let i = 1; i <= ROUNDS; i++) {
        const pair = await Pair.startOnce(lab, { app: 'echo', logDir: dir, tag: `r${i}` });
        try {
          pair.killPrimary();
          const ev = await pair.takeover(5000).catch((e: Error) => e);
          const ok = !(ev instanceof Error);
          if (!ok) failed = true;
          t.ok(ok, `round ${i}: takeover after a kill at "serving"${ok ? ` (${ev.totalMs.toFixed(1)} ms)` : `: ${ev.message.split('\n')[0]}`}`);
        } finally {
          await pair.end();
        }
      }
    });
  } finally {
    if (!failed) rmSync(dir, { recursive: true, force: true });
    else t.comment(`kept ${dir}`);
  }
});
