// Where a scenario's processes run on the machine's CPUs (`intact scenario --cpus`).
//
// The lab puts client, primary and backup on one machine. On a 2-core machine they then
// share two CPUs, and a bulk transfer with a backup runs three busy processes where one
// without runs two: measured (throughput scenario), replication's CPU per MB summed over
// every process caps "on / off" at ~0.79 client → server and ~0.70 server → client,
// whatever replication costs the primary itself. Issue 4's target is about a deployment
// in which the backup has a host of its own.
//
//   shared         the scheduler's choice (the default): everything on one machine;
//   primary-alone  the server (intact's primary, or the kernel reference server) alone
//                  on CPU 1; the client and the backup on CPU 0. The primary's host has
//                  its CPU to itself, as on two hosts, and "on / off" measures what
//                  replication costs it. The client shares CPU 0 with the backup in
//                  "on" only, which can only lower "on": the ratio errs against intact.
// Threads (the heartbeat thread) and child processes follow their process (taskset -a).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { IntactError } from '../../shared/errors.js';
import { requireLab, run, toolPath } from '../../lab/tools.js';

export const CPU_LAYOUTS = ['shared', 'primary-alone'] as const;
export type CpuLayout = (typeof CPU_LAYOUTS)[number];

/** taskset CPU lists per role; undefined: wherever the scheduler likes. */
export interface Placement {
  server?: string;
  backup?: string;
  client?: string;
}

export function placement(layout: CpuLayout): Placement {
  return layout === 'primary-alone' ? { server: '1', backup: '0', client: '0' } : {};
}

/** Refuses a layout this machine cannot give (fewer than 2 CPUs). */
export function checkLayout(layout: CpuLayout, cpus = availableParallelism()): void {
  if (layout === 'shared') return;
  if (cpus < 2) throw new IntactError('ERR_INTACT_USAGE', `--cpus ${layout} needs at least 2 CPUs; this machine has ${cpus}`);
  requireLab(['taskset']);
}

/** `argv` run on `cpus` from its start (taskset execs it: the pid stays the program's). */
export function onCpus(cpus: string | undefined, argv: readonly string[]): string[] {
  return cpus === undefined ? [...argv] : [toolPath('taskset'), '-c', cpus, ...argv];
}

/** Moves a running process, every thread of it, to `cpus`. */
export async function pin(pid: number, cpus: string | undefined): Promise<void> {
  if (cpus === undefined) return;
  await run('taskset', ['-a', '-p', '-c', cpus, String(pid)]);
}

/** USER_HZ: the unit of /proc/<pid>/stat's times, 100 on every Linux architecture
 *  intact runs on (x86-64, arm64). */
const USER_HZ = 100;

/** CPU time (user + system, every thread, ms) a process has used so far; 10 ms steps. */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may hold spaces and parentheses.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / USER_HZ;
}

/** The machine's CPU time so far (/proc/stat's first line), all CPUs: busy and idle
 *  (idle + iowait), in USER_HZ ticks. */
export interface MachineCpu {
  busy: number;
  idle: number;
}

export function machineCpu(stat = readFileSync('/proc/stat', 'utf8')): MachineCpu {
  const f = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
  return { busy, idle };
}

/** Percent of the machine's CPU time that was idle between two readings; null when no
 *  tick passed. A transfer that left CPU idle was bound by something else (latency,
 *  windows), one that left none was bound by CPU. */
export function idlePercent(a: MachineCpu, b: MachineCpu): number | null {
  const idle = b.idle - a.idle;
  const total = idle + (b.busy - a.busy);
  return total > 0 ? Math.round((1000 * idle) / total) / 10 : null;
}
