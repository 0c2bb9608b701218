// A tcpdump on the client's service interface for the length of one kill cycle: the
// honest witness of RSTs (the stack's own counters could lie; the client's wire cannot)
// and of the stall. Headers only (snaplen 128), written as each packet arrives.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { startProcess, type ManagedProcess } from '../../../scenarios/lib/process.js';
import { summarizePcap, type PcapRoles, type PcapSummary } from './pcap.js';

export interface CaptureResult extends PcapSummary {
  /** "N packets dropped by kernel" as tcpdump reports it at exit (undefined: not said). */
  droppedByKernel?: number;
}

export function tcpdumpPath(): string {
  for (const p of ['/usr/bin/tcpdump', '/usr/sbin/tcpdump', '/sbin/tcpdump']) {
    try {
      execFileSync(p, ['--version'], { stdio: 'ignore' });
      return p;
    } catch {
      // next
    }
  }
  throw new Error('tcpdump is missing: run scripts/setup.sh (apt-get install -y tcpdump)');
}

export class Capture {
  private constructor(
    private readonly proc: ManagedProcess,
    private readonly file: string,
    private readonly roles: PcapRoles,
  ) {}

  static async start(o: { netns: string; ifname: string; file: string; logFile: string; roles: PcapRoles }): Promise<Capture> {
    const proc = await startProcess({
      name: 'tcpdump',
      netns: o.netns,
      argv: [tcpdumpPath(), '-i', o.ifname, '-n', '-s', '128', '-U', '--immediate-mode', '-B', '8192', '-w', o.file, 'tcp'],
      logFile: o.logFile,
    });
    // tcpdump says "listening on ..." on stderr once its socket is bound: frames from
    // then on are in the file.
    const deadline = Date.now() + 10_000;
    while (!/listening on/.test(proc.tail())) {
      if (!proc.running) throw proc.error('ERR_INTACT_PROCESS_EXITED', 'tcpdump exited before listening');
      if (Date.now() > deadline) {
        await proc.stop(500);
        throw proc.error('ERR_INTACT_PROCESS_TIMEOUT', 'tcpdump not listening after 10 s');
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return new Capture(proc, o.file, o.roles);
  }

  /** Stops tcpdump (SIGTERM flushes the file) and summarises what it saw. */
  async stop(): Promise<CaptureResult> {
    await this.proc.stop(3000);
    const dropped = /(\d+) packets? dropped by kernel/.exec(this.proc.tail());
    const s = summarizePcap(readFileSync(this.file), this.roles);
    return { ...s, ...(dropped ? { droppedByKernel: Number(dropped[1]) } : {}) };
  }

  kill(): void {
    this.proc.killSync();
  }
}
