// `intact backup` with a memory gauge: the same daemon (registerBackup, same argv), plus
// on SIGUSR2 one line {"event":"memory","seq":n,rss,heapUsed,...} on stdout after a full
// GC (run under --expose-gc). The takeover-vs-connections scenario reads it before and
// after the connections exist to get the backup's memory per connection.
import { Command } from 'commander';
import { registerBackup } from '../../backup-daemon/cli.js';

let seq = 0;
process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const m = process.memoryUsage();
  seq++;
  process.stdout.write(JSON.stringify({
    event: 'memory', seq, gc: gc !== undefined,
    rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers,
  }) + '\n');
});

const program = new Command().name('intact').exitOverride();
registerBackup(program);
await program.parseAsync(['node', 'intact', 'backup', ...process.argv.slice(2)]);
