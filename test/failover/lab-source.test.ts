// kill -9 of the primary late in a 256 MiB stream from the `source` app, strict and with
// output replay: the backup restores the connection from the app's last checkpoint and
// the stream arrives exact, with no RST (lib/stream.ts). Three cycles per mode: the
// download suites kill at twenty instants each; these check the source's checkpoints.
import t from 'tap';
import { rootOnly } from '../helpers/root.js';
import { streamSuite } from './lib/stream.js';
import { cycleCount } from './lib/instants.js';

const CYCLES = Math.min(3, cycleCount());

t.test('strict: a long stream survives kill -9, restored from a checkpoint', rootOnly(), (t) => streamSuite(t, false, CYCLES));
t.test('output replay: a long stream survives kill -9, restored from a checkpoint', rootOnly(), (t) => streamSuite(t, true, CYCLES));
