// `intact demo` end to end in a lab (root), in both modes: the download survives the
// kill with the right bytes, no RST, a takeover seen; with --output-replay the backup
// rebuilt the connection for replay (its app served the file again from the request).
// Small file (30 MB): the README's run uses 100. No timing thresholds.
import t from 'tap';
import { listNetns } from '../../lab/topology.js';
import { runDemo } from '../../scenarios/demo.js';
import { rootOnly } from '../helpers/root.js';

for (const outputReplay of [false, true]) {
  t.test(`intact demo${outputReplay ? ' --output-replay' : ''}: the download survives the kill`, rootOnly(), async (t) => {
    const prefix = `intact-d${Math.floor(Math.random() * 0xfffff).toString(16)}`;
    const r = await runDemo({ json: true, mb: 30, killAt: 0.5, prefix, outputReplay });
    t.notOk((await listNetns()).some((ns) => ns.startsWith(prefix + '-')), 'the lab is gone afterwards');
    t.equal(r.bytesVerified, true, 'every byte, sha256 equal');
    t.equal(r.rstSeenByClient, 0, 'no RST at the client');
    t.equal(r.connections, 1, 'one connection taken over');
    t.equal(r.outputReplay, outputReplay);
    t.equal(r.replayed, outputReplay ? 1 : 0, outputReplay ? 'rebuilt for output replay' : 'strict: none rebuilt for replay');
    t.ok(r.detectMs > 0 && r.stallMs > 0, `figures measured (detect ${r.detectMs.toFixed(1)} ms, stall ${r.stallMs.toFixed(1)} ms)`);
    t.equal(r.ok, true, 'the demo says OK');
  });
}
