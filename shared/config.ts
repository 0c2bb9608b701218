// The deployment config: one JSON file that describes a primary/backup pair by
// interfaces and addresses, so the same programs run in the lab's namespaces and on
// two real hosts. Both roles read the same file; each picks its own half by role.
// Validation errors name the file, the field path and the reason, because the person
// reading them is editing that file by hand.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { IntactError } from './errors.js';
import { ipv4ToU32 } from './wire/addr.js';
import { MAX_REPLAY_WINDOW } from './replication/messages.js';

export type Role = 'primary' | 'backup';

const ipv4 = z.ipv4({ error: 'must be a dotted IPv4 address such as 192.0.2.1' });

// Linux limits interface names to IFNAMSIZ-1 = 15 bytes; '/' and whitespace are
// refused by the kernel, so refusing them here turns a runtime ENODEV into a clear error.
const ifname = z
  .string({ error: 'must be an interface name (string)' })
  .regex(/^[^\s/:]{1,15}$/, { error: 'must be an interface name of 1 to 15 characters without spaces, "/" or ":"' });

const hexKey = z
  .string({ error: 'must be a hex string' })
  .regex(/^(?:[0-9a-fA-F]{2}){16,}$/, {
    error: 'must be hex digits (0-9, a-f), an even number of them, at least 32 (16 bytes)',
  });

const positiveMs = (what: string) =>
  z.int({ error: `${what} must be a whole number of milliseconds` }).positive({ error: `${what} must be > 0` });

const HostSchema = z.strictObject({
  /** The interface on the service LAN that carries the VIP (raw frames, AF_PACKET). */
  serviceInterface: ifname,
  /** The host's own address on the service LAN (configured in its kernel; not the VIP). */
  serviceAddress: ipv4,
  /** The interface of the dedicated replication link; informational for heartbeats. */
  replicationInterface: ifname.optional(),
  /** The host's address on the replication link; the replication channel binds to it. */
  replicationAddress: ipv4,
  /** Slots of the service link's receive ring, rounded up to whole 2 MiB blocks of 31
   *  (default: the primary 256, i.e. 279 slots, 18 MB; the backup BACKUP_RX_RING_FRAMES).
   *  Each slot takes ~64 KB of pinned kernel memory, since one GSO frame may fill it.
   *  Frames arriving while the ring is full are dropped by the kernel: a backup that
   *  takes over thousands of connections at once meets a wave of client retransmissions
   *  there. */
  rxRingFrames: z.int({ error: 'must be a whole number' }).min(64, { error: 'must be between 64 and 8192' })
    .max(8192, { error: 'must be between 64 and 8192' }).optional(),
});

/** The backup's receive ring by default. Measured, 10,000 connections taken over at
 *  once from one client (2 runs each, alternating): with 256 slots a third of the
 *  arriving frames were dropped, and the connections answered again after p50 1.93-1.98
 *  s, p99 6.9-7.4 s, max 13.8 s (their senders backed off); with 2,048 slots p50 1.02-
 *  1.08 s, p99 1.85-1.95 s, max 1.98 s. It costs the backup ~134 MB of pinned memory. */
export const BACKUP_RX_RING_FRAMES = 2048;

/** The deployment's buffer defaults: 2 MiB each way, eight times the engine's own
 *  default (shared/tcp/config.ts, for embedding and tests), because with a backup each
 *  byte waits for the replication round trip before it leaves (rule 2) and each
 *  received byte before it is acknowledged (rule 1), so a connection needs more bytes
 *  in flight for the same rate. Measured in the lab (`intact scenario throughput`, two
 *  runs per arm, alternating, 2026-11-22), 1 GB each way, replication on: client →
 *  server 1.85 / 1.80 Gbit/s against 1.53 / 1.26 with 256 KiB, server → client 2.11 /
 *  1.90 against 1.86 / 1.65. Without a backup the gain was smaller, so on / off rose:
 *  0.85 / 0.81 against 0.80 / 0.63 (to the server), 0.76 / 0.70 against 0.66 / 0.64
 *  (from it). Linux allows 4 MiB (send) and 6 MiB (receive) per socket by default;
 *  these are caps, not allocations. Both fit in the default store of 4 MiB per
 *  connection, which gives received bytes half. */
export const DEFAULT_TCP_BUFFERS = { sndBuf: 2 * 1024 * 1024, rcvBuf: 2 * 1024 * 1024 } as const;

/** replication.busyPollUs by default: the bound Linux sets for the same trade in a KVM
 *  guest (haltpoll's guest_halt_poll_ns) and host (halt_poll_ns), 200 µs. Measured in
 *  the lab (2026-11-23, this VM booted with its own halt polling off), strict
 *  request/response added over no backup, five workloads: +91 to +107 µs sleeping
 *  (budget 68.6), −9 to +7 polling 200 µs (budget 55.2); bulk server → client 46.4% /
 *  50.9% of off (strict), 76.5% / 80.5% (replay), no worse; a sparse client (3,000
 *  exchanges 2 ms apart): the primary's main thread 0.84-1.05 s sleeping, 1.23-1.25 s
 *  polling a fixed 200 µs, 0.99-1.05 s adapting. Figures in README (Experiments). */
export const DEFAULT_BUSY_POLL_US = 200;

/** The heartbeat defaults, exported so the experiments label and measure exactly these. */
export const DEFAULT_HEARTBEAT = { heartbeatIntervalMs: 10, deadTimeMs: 80 } as const;
/** "10/80" style label of a heartbeat setting, as the scenarios' samples carry it. */
export const heartbeatLabel = (s: { heartbeatIntervalMs: number; deadTimeMs: number }): string =>
  `${s.heartbeatIntervalMs}/${s.deadTimeMs}`;

const ReplicationSchema = z.strictObject({
  port: z
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be a TCP/UDP port (1-65535)' })
    .max(65535, { error: 'must be a TCP/UDP port (1-65535)' })
    .default(7400),
  /** Shared secret for the hello authentication (HMAC key), hex. */
  key: hexKey,
  // 10 ms / 80 ms detects a dead primary within ~90 ms of its death. 60 ms was tried
  // first: on a saturated 2-core host, silences of 61-70 ms between beats were measured
  // even with real-time heartbeat threads (the kernel's softirq work for the beats is
  // not real-time), and each one is a false takeover. 80 ms keeps the target with margin.
  heartbeatIntervalMs: positiveMs('heartbeatIntervalMs').default(DEFAULT_HEARTBEAT.heartbeatIntervalMs),
  deadTimeMs: positiveMs('deadTimeMs').default(DEFAULT_HEARTBEAT.deadTimeMs),
  /** Bound of the backup's store per connection; when full the primary back-pressures. */
  storeBytesPerConnection: z
    .int({ error: 'must be a whole number of bytes' })
    .min(65536, { error: 'must be at least 65536 bytes (one full TCP window)' })
    .default(4 * 1024 * 1024),
  /** Output replay instead of strict output commit (DESIGN rule 2) for data: the bytes
   *  the app writes leave at once and are not replicated; after a takeover the restored
   *  app writes them again and the client's ACK tells the backup how many it already
   *  holds. Only for apps whose output is a pure function of their input and last
   *  checkpoint (README, "Writing a server"); the FIN, checkpoints' output and handshakes
   *  are replicated as in strict mode. Off by default: strict is the thesis's rule.
   *  Window: output may run up to twice tcp.sndBuf past the snd_una the backup holds
   *  (primary/replication/mirror.ts). */
  outputReplay: z.boolean({ error: 'must be true or false' }).default(false),
  /** At most this many microseconds each side keeps polling the replication link after
   *  its last traffic instead of sleeping (shared/replication/busy-poll.ts), the window
   *  adapted to the gaps between messages as KVM adapts its halt polling: a strict
   *  exchange does not wait for an idle CPU to wake, and sparse traffic polls for
   *  nothing. 0: never poll. Default DEFAULT_BUSY_POLL_US. */
  busyPollUs: z
    .int({ error: 'must be a whole number of microseconds' })
    .min(0, { error: 'must be between 0 (off) and 1000000 µs' })
    .max(1_000_000, { error: 'must be between 0 (off) and 1000000 µs' })
    .default(DEFAULT_BUSY_POLL_US),
});

/** Output replay's window: how far the primary's output may run past the snd_una its
 *  backup confirmed. The engine's queue holds at most sndBuf past the real snd_una, and
 *  the confirmed one trails it by a replication round trip of acknowledgments (at
 *  1 GB/s and 1 ms, another MB): twice sndBuf does not bind in normal operation. */
export function replayWindow(c: Pick<Config, 'replication' | 'tcp'>): number {
  return c.replication.outputReplay ? 2 * c.tcp.sndBuf : 0;
}

const TakeoverSchema = z.strictObject({
  /** After each kick, an ICMP "fragmentation needed" that makes the client resend its
   *  unacknowledged segments at once (backup-daemon/takeover.ts pmtuKick: measured gain
   *  and costs there). */
  pmtuKick: z.boolean({ error: 'must be true or false' }).default(true),
  /** Run the takeover's rebuild on made-up connections at start and every 30 s, in
   *  small slices, so the real takeover does not meet that code cold
   *  (backup-daemon/warmup.ts). */
  warmup: z.boolean({ error: 'must be true or false' }).default(true),
  /** Run the rebuild and restart at real-time priority (SCHED_RR 5, below the heartbeat
   *  threads), so other work on a busy host cannot take the CPU from them midway
   *  (backup-daemon/takeover.ts). Needs CAP_SYS_NICE; without it, normal priority. */
  realtime: z.boolean({ error: 'must be true or false' }).default(true),
});

/** Per-connection buffer sizes of the TCP engine (shared/tcp/config.ts). Both roles
 *  read the same values: the backup rebuilds each connection into its own engine, and a
 *  receive buffer smaller there than on the primary would shrink the window the client
 *  was offered (a known pitfall of moving TCP state). */
const bufferBytes = z.int({ error: 'must be a whole number of bytes' })
  .min(16 * 1024, { error: 'must be between 16384 and 1073741824 bytes' })
  .max(2 ** 30, { error: 'must be between 16384 and 1073741824 bytes' });
const TcpSchema = z.strictObject({
  /** Bytes the app may have written and not yet had acknowledged, per connection. With
   *  a backup these bytes also cover the replication round trip (rule 2: output leaves
   *  only once the backup holds it), so the transfer rate of one connection is at most
   *  sndBuf divided by (replication round trip + client round trip). */
  sndBuf: bufferBytes.default(DEFAULT_TCP_BUFFERS.sndBuf),
  /** Bytes received and not yet read by the app, per connection; sets the window and the
   *  window scale offered to clients. */
  rcvBuf: bufferBytes.default(DEFAULT_TCP_BUFFERS.rcvBuf),
});

export const ConfigSchema = z
  .strictObject({
    /** The service address the clients connect to; configured in no kernel. */
    vip: ipv4,
    /** Prefix length of the service LAN (the VIP's subnet). */
    servicePrefixLength: z
      .int({ error: 'must be a whole number' })
      .min(8, { error: 'must be between 8 and 30' })
      .max(30, { error: 'must be between 8 and 30' })
      .default(24),
    /** Next hop for clients outside the service subnet; without it only on-link clients
     *  are reachable from the VIP. */
    gateway: ipv4.optional(),
    primary: HostSchema,
    backup: HostSchema,
    replication: ReplicationSchema,
    /** How the backup takes over (optional). */
    takeover: TakeoverSchema.prefault({}),
    /** The TCP engine's buffers, the same on both roles (optional). */
    tcp: TcpSchema.prefault({}),
    /** Directory for per-role log files; logs go to stderr when absent. */
    logDir: z.string().min(1, { error: 'must be a non-empty path' }).optional(),
  })
  // zod runs this even when a field above failed (format issues do not abort), so
  // every check here tolerates values that did not validate.
  .superRefine((c, ctx) => {
    const dup = (a: string, b: string, path: (string | number)[], why: string) => {
      if (typeof a === 'string' && a === b) ctx.addIssue({ code: 'custom', path, message: why });
    };
    dup(c.primary.serviceAddress, c.backup.serviceAddress, ['backup', 'serviceAddress'], 'must differ from primary.serviceAddress');
    dup(c.vip, c.primary.serviceAddress, ['vip'], 'must differ from primary.serviceAddress (no kernel may own the VIP)');
    dup(c.vip, c.backup.serviceAddress, ['vip'], 'must differ from backup.serviceAddress (no kernel may own the VIP)');
    dup(c.primary.replicationAddress, c.backup.replicationAddress, ['backup', 'replicationAddress'], 'must differ from primary.replicationAddress');

    const mask = (0xffffffff << (32 - c.servicePrefixLength)) >>> 0;
    const net = (a: unknown): number | undefined => {
      if (typeof a !== 'string') return undefined;
      try {
        return (ipv4ToU32(a) & mask) >>> 0;
      } catch {
        return undefined;
      }
    };
    const vipNet = net(c.vip);
    const sameNet = (a: string | undefined, path: (string | number)[]) => {
      const n = net(a);
      if (vipNet !== undefined && n !== undefined && n !== vipNet) {
        ctx.addIssue({ code: 'custom', path, message: `must be in the VIP's subnet ${c.vip}/${c.servicePrefixLength}` });
      }
    };
    sameNet(c.primary.serviceAddress, ['primary', 'serviceAddress']);
    sameNet(c.backup.serviceAddress, ['backup', 'serviceAddress']);
    sameNet(c.gateway, ['gateway']);

    // Output must always find room in the backup's store: the mirror gives received
    // bytes at most half of it (primary/replication/mirror.ts).
    const { sndBuf } = c.tcp;
    const store = c.replication.storeBytesPerConnection;
    if (typeof sndBuf === 'number' && typeof store === 'number' && sndBuf > store / 2) {
      ctx.addIssue({
        code: 'custom',
        path: ['tcp', 'sndBuf'],
        message: `must be at most half of replication.storeBytesPerConnection (${store}): the store holds a connection's unacknowledged output beside its unconsumed input`,
      });
    }

    // Output replay's window (twice sndBuf) travels in the OPEN, bounded there.
    if (c.replication.outputReplay === true && typeof sndBuf === 'number' && 2 * sndBuf > MAX_REPLAY_WINDOW) {
      ctx.addIssue({
        code: 'custom',
        path: ['tcp', 'sndBuf'],
        message: `must be at most ${MAX_REPLAY_WINDOW / 2} bytes with replication.outputReplay (its window is twice sndBuf, at most ${MAX_REPLAY_WINDOW})`,
      });
    }

    // One late heartbeat must not look like a death.
    const { deadTimeMs, heartbeatIntervalMs } = c.replication;
    if (typeof deadTimeMs === 'number' && typeof heartbeatIntervalMs === 'number' && deadTimeMs < 2 * heartbeatIntervalMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['replication', 'deadTimeMs'],
        message: `must be at least twice heartbeatIntervalMs (${c.replication.heartbeatIntervalMs})`,
      });
    }
  });

/** A validated config, defaults filled in. */
export type Config = z.output<typeof ConfigSchema>;
/** What a config file may contain (defaults optional). */
export type ConfigInput = z.input<typeof ConfigSchema>;
export type HostConfig = Config['primary'];

function describeIssues(source: string, error: z.ZodError): string {
  const lines = error.issues.map((i) => {
    const where = i.path.length ? i.path.join('.') : '(top level)';
    const why = i.code === 'invalid_type' && /received undefined$/.test(i.message) ? 'is required' : i.message;
    return `${where}: ${why}`;
  });
  return `invalid config ${source}: ${lines.join('; ')}`;
}

/** Validates a parsed JSON value. `source` names it in errors (a file path). */
export function parseConfig(obj: unknown, source = '(object)'): Config {
  const r = ConfigSchema.safeParse(obj);
  if (!r.success) throw new IntactError('ERR_INTACT_CONFIG', describeIssues(source, r.error));
  return r.data;
}

/** Reads and validates a config file. Every failure, a missing file included, is
 *  ERR_INTACT_CONFIG with the path in the message. */
export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String((e as Error).message);
    throw new IntactError('ERR_INTACT_CONFIG', `cannot read config ${path}: ${why}`, { cause: e });
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new IntactError('ERR_INTACT_CONFIG', `invalid config ${path}: not JSON: ${(e as Error).message}`, { cause: e });
  }
  return parseConfig(obj, path);
}
