// `intact lab smoke`: builds a throwaway lab, proves each of its promises with the
// kernel's own tools, and always tears it down. The checks are the lab's contract with
// the TCP and failover tests built on it.
import { logger } from '../shared/log.js';
import { cutLink, healLink, setLoss } from './faults.js';
import { VIP, findNode, replicationAddress, serviceAddress, uniquePrefix, type LabPlan } from './plan.js';
import { reaches, silent } from './probe.js';
import { labDownSync, labNamespaces, labStatus, labUp, teardownOnExit } from './topology.js';
import { requireLab } from './tools.js';

const log = logger('lab');

export interface SmokeStep {
  name: string;
  ok: boolean;
  detail: string;
  ms: number;
}

export interface SmokeOptions {
  prefix?: string;
  stateRoot?: string;
  onStep?: (step: SmokeStep) => void;
}

type Check = () => Promise<string>;

function must(cond: boolean, what: string): string {
  if (!cond) throw new Error(what);
  return 'ok';
}

function checks(lab: LabPlan): [string, Check][] {
  const client = findNode(lab, 'client').netns;
  const primary = findNode(lab, 'primary').netns;
  const primarySvc = serviceAddress('primary')!;
  const backupSvc = serviceAddress('backup')!;
  const backupRep = replicationAddress('backup');
  return [
    ['status agrees with the plan', async () => {
      const s = await labStatus(lab.prefix);
      must(s.up, 'not every namespace exists');
      must(s.configs.primary !== null, 'no config file written');
      return `${s.nodes.length} namespaces, config ${s.configs.primary}`;
    }],
    [`client reaches primary ${primarySvc}`, async () => must(await reaches(client, primarySvc), 'no reply')],
    [`client reaches backup ${backupSvc}`, async () => must(await reaches(client, backupSvc), 'no reply')],
    [`primary reaches backup ${backupRep} over replication`, async () => must(await reaches(primary, backupRep), 'no reply')],
    [`VIP ${VIP} configured in no kernel`, async () => {
      const s = await labStatus(lab.prefix);
      const owners = s.nodes.filter((n) => n.links.some((l) => l.addresses.some((a) => a.startsWith(VIP + '/'))));
      return must(owners.length === 0, `configured in ${owners.map((n) => n.node).join(', ')}`);
    }],
    [`VIP ${VIP} does not answer`, async () => must(await silent(client, VIP), 'something answered for the VIP')],
    ['cut service-primary stops client->primary', async () => {
      await cutLink(lab.prefix, 'service-primary');
      return must(await silent(client, primarySvc), 'primary still answers');
    }],
    ['cut service-primary leaves client->backup', async () => must(await reaches(client, backupSvc), 'backup stopped answering too')],
    ['heal service-primary restores it', async () => {
      await healLink(lab.prefix, 'service-primary');
      return must(await reaches(client, primarySvc), 'primary still silent');
    }],
    ['cut replication stops primary->backup', async () => {
      await cutLink(lab.prefix, 'replication');
      return must(await silent(primary, backupRep), 'backup still answers on rep0');
    }],
    ['heal replication restores it', async () => {
      await healLink(lab.prefix, 'replication');
      return must(await reaches(primary, backupRep), 'backup still silent on rep0');
    }],
    ['loss 100 drops everything', async () => {
      await setLoss(lab.prefix, 100);
      return must(await silent(client, backupSvc), 'frames got through');
    }],
    ['loss 0 restores', async () => {
      await setLoss(lab.prefix, 0);
      return must(await reaches(client, backupSvc), 'still silent');
    }],
  ];
}

/** Runs the smoke checks on a fresh lab; `ok` is false when any step failed. */
export async function labSmoke(opts: SmokeOptions = {}): Promise<{ ok: boolean; prefix: string; steps: SmokeStep[] }> {
  requireLab(['ip', 'nft', 'ping']);
  const prefix = opts.prefix ?? uniquePrefix('intact-s');
  const steps: SmokeStep[] = [];
  const step = async (name: string, fn: Check): Promise<boolean> => {
    const t0 = performance.now();
    let ok = true;
    let detail: string;
    try {
      detail = await fn();
    } catch (e) {
      ok = false;
      detail = (e as Error).message;
    }
    const s = { name, ok, detail, ms: Math.round(performance.now() - t0) };
    steps.push(s);
    log.debug(s, 'smoke step');
    opts.onStep?.(s);
    return ok;
  };

  const cancel = teardownOnExit(prefix, opts);
  try {
    let lab: LabPlan | undefined;
    const built = await step(`up (prefix ${prefix})`, async () => {
      lab = await labUp({ prefix, stateRoot: opts.stateRoot });
      return `${lab.nodes.map((n) => n.netns).join(' ')}`;
    });
    if (built && lab) {
      for (const [name, fn] of checks(lab)) await step(name, fn);
    }
  } finally {
    await step('down', async () => {
      labDownSync(prefix, opts);
      const left = await labNamespaces(prefix);
      return must(left.length === 0, `left behind: ${left.join(' ')}`);
    });
    cancel();
  }
  return { ok: steps.every((s) => s.ok), prefix, steps };
}
