// `ringrift cluster health`: the health workflow across task queues plus the SSH hosts' view; `cluster init` for a
// remote cluster; `cluster list|up|down|update|sync` for the SSH hosts of hosts.yaml (cli/clusterHosts.ts).
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import type { LoadedConfig } from '../../config/load';
import { describePollers } from '../../activities/health';
import type { ClusterHealthReport, QueueHealth } from '../../workflows/clusterHealth';
import { connectClient } from '../../workers/connection';
import { WORKFLOW_QUEUE } from '../../workers/run';
import { formatClusterInit, initCluster } from '../clusterInit';
import { cliConfig } from '../context';
import { UserError } from '../errors';
import {
  formatHostStatus,
  formatLocalStatus,
  localStatus,
  hostStatuses,
  mapLimit,
  remoteFacts,
  selectHosts,
  sshOptions,
  startWorkers,
  stopWaitSeconds,
  stopWorkers,
  waitPolling,
  type HostStatus,
} from '../clusterHosts';
import { resolveCommit, updateHost } from '../clusterUpdate';
import { SYNC_KINDS, localFiles, needs, syncHost, type SyncEvent, type SyncKind } from '../clusterSync';
import { withSsh } from '../../workers/ssh';

export async function connectOrExplain(cfg: LoadedConfig): Promise<Client> {
  const t = cfg.pipeline.temporal;
  try {
    return await connectClient(t, '5s');
  } catch (err) {
    throw new UserError(
      `cannot reach Temporal at ${t.address} (${(err as Error).message.split('\n')[0]}): start it with 'ringrift dev up' or set RINGRIFT_TEMPORAL_ADDRESS`,
      1,
    );
  }
}

function timestampId(prefix: string): string {
  return `${prefix}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`;
}

export async function runClusterHealth(cfg: LoadedConfig, client: Client): Promise<ClusterHealthReport> {
  const { health, temporal } = cfg.pipeline;
  const [wfQueue] = await describePollers(client, temporal.namespace, [WORKFLOW_QUEUE]);
  if (!wfQueue || wfQueue.workflowPollers.length === 0) {
    throw new UserError(
      `no worker polling queue "${WORKFLOW_QUEUE}", which runs the health workflow: start one with 'ringrift worker --queue ${WORKFLOW_QUEUE}' or 'ringrift dev up'`,
      1,
    );
  }
  return client.workflow.execute('clusterHealth', {
    taskQueue: WORKFLOW_QUEUE,
    workflowId: timestampId('cluster-health'),
    args: [{ queues: health.queues, scheduleToStartSeconds: health.scheduleToStartSeconds }],
    workflowExecutionTimeout: '5m',
  });
}

export function formatHealth(report: ClusterHealthReport): string {
  const line = (q: QueueHealth): string[] => {
    const ids = [...new Set([...q.pollers.workflowPollers, ...q.pollers.activityPollers].map((p) => p.identity))];
    const pollers = `pollers: ${ids.length ? ids.join(', ') : 'none'}`;
    if (q.status === 'no worker polling') return [`queue ${q.queue}: no worker polling`, `  ${pollers}`];
    if (q.status === 'probe failed') return [`queue ${q.queue}: probe failed: ${q.error}`, `  ${pollers}`];
    const p = q.probe;
    const gpu = p.gpus.length ? p.gpus.map((g) => `${g.name}${g.memoryMiB ? ` (${g.memoryMiB} MiB)` : ''}`).join(', ') : 'none';
    return [
      `queue ${q.queue}: ok`,
      `  ${pollers}`,
      `  probe answered by: ${p.workerIdentity}`,
      `  host: ${p.hostname} (${p.platform}), ${p.cores} cores, ${p.memoryGiB} GiB memory, GPU: ${gpu}, node ${p.node}`,
    ];
  };
  return report.queues.flatMap(line).join('\n');
}

export function registerClusterCommands(program: Command): void {
  const cluster = program.command('cluster').description('cluster-wide checks and set-up');
  cluster
    .command('health')
    .description('probe every configured task queue through a workflow; report pollers and host facts, and each SSH host')
    .option('--json', 'print the report as JSON')
    .option('--accept-new', 'pin the host key of an SSH host never seen before')
    .action(async (opts: { json?: boolean; acceptNew?: boolean }, cmd: Command) => {
      const cfg = cliConfig(cmd);
      const remote = cfg.hosts.hosts.filter((h) => h.ssh);
      const client = await connectOrExplain(cfg);
      try {
        const hosts = hostStatuses(cfg, remote, opts.acceptNew); // meanwhile
        // without a worker on the workflow queue there is no report, but the SSH view still says what runs where
        const report = await runClusterHealth(cfg, client).catch(async (err: unknown) => {
          const statuses = await hosts;
          if (statuses.length && !opts.json) console.log(['SSH hosts:', ...statuses.map(formatHostStatus)].join('\n'));
          throw err;
        });
        const statuses = await hosts;
        if (opts.json) console.log(JSON.stringify({ ...report, hosts: statuses.map(hostJson) }, null, 2));
        else
          console.log(
            [formatHealth(report), ...(statuses.length ? ['SSH hosts:', ...statuses.map((s) => formatHostHealth(s, report))] : [])].join(
              '\n',
            ),
          );
        if (statuses.some((s) => !s.reachable)) process.exitCode = 1;
      } finally {
        await client.connection.close();
      }
    });
  cluster
    .command('init')
    .description("register the namespace (if the server lacks it) and the pipeline's search attributes (self-hosted or remote clusters)")
    .action(async (_opts, cmd: Command) => {
      const cfg = cliConfig(cmd);
      const client = await connectOrExplain(cfg);
      try {
        const { namespace } = cfg.pipeline.temporal;
        console.log(formatClusterInit(namespace, await initCluster(client.connection, namespace, cfg.pipeline.searchAttributes)));
      } finally {
        await client.connection.close();
      }
    });
  registerHostCommands(cluster);
}

function hostJson(s: HostStatus) {
  return s.reachable ? { name: s.host.name, reachable: true, ...s.facts } : { name: s.host.name, reachable: false, error: s.error };
}

/** A host's SSH view, and which of its workers Temporal sees polling (identity `ringrift-<queue>-<pid>@<host>`). */
function formatHostHealth(s: HostStatus, report: ClusterHealthReport): string {
  const text = formatHostStatus(s);
  if (!s.reachable) return text;
  const ids = new Set(report.queues.flatMap((q) => [...q.pollers.workflowPollers, ...q.pollers.activityPollers].map((p) => p.identity)));
  const seen = s.facts.workers.map((w) => {
    const id = `ringrift-${w.queue}-${w.pid}@${s.host.name}`;
    return `${w.name} ${ids.has(id) || !report.queues.some((q) => q.queue === w.queue) ? '' : 'NOT '}seen by Temporal as ${id}`;
  });
  return seen.length ? `${text}\n  ${seen.join('\n  ')}` : text;
}

function waitSecondsMs(value: string): number {
  const ms = Number(value) * 1000;
  if (!(ms > 0)) throw new UserError(`--wait-seconds ${value}: must be a positive number of seconds`);
  return ms;
}

function collectErrors(results: PromiseSettledResult<unknown>[]): void {
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
  if (errors.length) throw new UserError(errors.join('\n'), 1);
}

function registerHostCommands(cluster: Command): void {
  cluster
    .command('list')
    .description('each host: reachable?, OS, cores, memory, GPU, checkout commit, workers running and the queues they poll')
    .option('--hosts <names>', 'only these hosts (comma-separated)')
    .option('--accept-new', 'pin the host key of a host never seen before')
    .option('--json', 'print JSON')
    .action(async (opts: { hosts?: string; acceptNew?: boolean; json?: boolean }, cmd: Command) => {
      const cfg = cliConfig(cmd);
      const locals = opts.hosts ? [] : cfg.hosts.hosts.filter((h) => !h.ssh);
      const remote = opts.hosts || locals.length === 0 ? selectHosts(cfg, opts.hosts) : cfg.hosts.hosts.filter((h) => h.ssh);
      const statuses = await hostStatuses(cfg, remote, opts.acceptNew);
      if (opts.json) console.log(JSON.stringify([...locals.map((h) => localStatus(cfg, h)), ...statuses.map(hostJson)], null, 2));
      else console.log([...locals.map((h) => formatLocalStatus(cfg, h)), ...statuses.map(formatHostStatus)].join('\n'));
      if (statuses.some((s) => !s.reachable)) process.exitCode = 1;
    });
  cluster
    .command('up')
    .description(
      'start `ringrift worker` on the SSH hosts (each queue × workers), detached, pid file and log in <dataDir>/cluster/<host>/; idempotent',
    )
    .option('--hosts <names>', 'only these hosts (comma-separated)')
    .option('--accept-new', 'pin the host key of a host never seen before')
    .option('--wait-seconds <n>', 'how long a started worker may take to poll', '180')
    .action(async (opts: { hosts?: string; acceptNew?: boolean; waitSeconds: string }, cmd: Command) => {
      const cfg = cliConfig(cmd);
      const hosts = selectHosts(cfg, opts.hosts);
      const waitMs = waitSecondsMs(opts.waitSeconds);
      const sshOpts = sshOptions(cfg, opts.acceptNew);
      const results = await Promise.allSettled(
        hosts.map((host) =>
          withSsh(host, sshOpts, async (client) => {
            const started = await startWorkers(client, cfg, host);
            for (const w of started)
              console.log(`${host.name}: ${w.name} ${w.state === 'running' ? 'already running' : 'started'} (pid ${w.pid})`);
            await waitPolling(client, host, started, waitMs);
            const fresh = started.filter((w) => w.state === 'started');
            if (fresh.length) console.log(`${host.name}: polling: ${fresh.map((w) => w.name).join(', ')}`);
          }),
        ),
      );
      collectErrors(results);
    });
  cluster
    .command('down')
    .description('stop the workers `cluster up` started (SIGTERM: graceful drain, then kill after the grace period); idempotent')
    .option('--hosts <names>', 'only these hosts (comma-separated)')
    .option('--accept-new', 'pin the host key of a host never seen before')
    .action(async (opts: { hosts?: string; acceptNew?: boolean }, cmd: Command) => {
      const cfg = cliConfig(cmd);
      const sshOpts = sshOptions(cfg, opts.acceptNew);
      const results = await Promise.allSettled(
        selectHosts(cfg, opts.hosts).map((host) =>
          withSsh(host, sshOpts, async (client) => {
            const stopped = await stopWorkers(client, host, stopWaitSeconds(cfg));
            if (!stopped.length) console.log(`${host.name}: no workers running`);
            for (const w of stopped)
              console.log(`${host.name}: ${w.name} (pid ${w.pid}) ${w.how === 'stopped' ? 'stopped' : 'killed after the grace period'}`);
          }),
        ),
      );
      collectErrors(results);
    });
  cluster
    .command('update')
    .description("put every SSH host's checkout on a commit, run the set-up there, restart its workers gracefully")
    .option('--commit <sha>', "the commit (default: this checkout's HEAD); hosts fetch it from their origin")
    .option('--parallel <n>', 'hosts updated at once (default 1: one after another)', '1')
    .option('--dry-run', 'print what would change on each host, change nothing')
    .option('--hosts <names>', 'only these hosts (comma-separated)')
    .option('--accept-new', 'pin the host key of a host never seen before')
    .option('--wait-seconds <n>', 'how long a restarted worker may take to poll', '180')
    .action(
      async (
        opts: { commit?: string; parallel: string; dryRun?: boolean; hosts?: string; acceptNew?: boolean; waitSeconds: string },
        cmd: Command,
      ) => {
        const cfg = cliConfig(cmd);
        const parallel = Number(opts.parallel);
        if (!Number.isInteger(parallel) || parallel < 1) throw new UserError(`--parallel ${opts.parallel}: must be a whole number ≥ 1`);
        const hosts = selectHosts(cfg, opts.hosts);
        const waitMs = waitSecondsMs(opts.waitSeconds);
        const commit = resolveCommit(opts.commit);
        console.log(`${opts.dryRun ? 'dry run: ' : ''}updating ${hosts.map((h) => h.name).join(', ')} to ${commit}, ${parallel} at a time`);
        const sshOpts = sshOptions(cfg, opts.acceptNew);
        const results = await mapLimit(hosts, parallel, (host) =>
          withSsh(host, sshOpts, (client) =>
            updateHost(
              client,
              cfg,
              host,
              { commit, dryRun: opts.dryRun ?? false, waitPollingMs: waitMs, log: (l) => console.log(l) },
              async () => (await remoteFacts(client, host)).workers,
            ),
          ).then(
            (value) => ({ status: 'fulfilled', value }) as const,
            (reason: unknown) => ({ status: 'rejected', reason }) as const,
          ),
        );
        collectErrors(results);
      },
    );
  cluster
    .command('sync')
    .description('copy models, NPZ files and game DBs to the SSH hosts that need them, checked by sha256 at both ends')
    .option('--what <kinds>', `what to sync: ${SYNC_KINDS.join(', ')} (comma-separated)`, SYNC_KINDS.join(','))
    .option('--hosts <names>', 'only these hosts (comma-separated)')
    .option('--dry-run', 'print what would be copied, copy nothing')
    .option('--accept-new', 'pin the host key of a host never seen before')
    .action(async (opts: { what: string; hosts?: string; dryRun?: boolean; acceptNew?: boolean }, cmd: Command) => {
      const cfg = cliConfig(cmd);
      const kinds = opts.what.split(',').map((s) => s.trim());
      const bad = kinds.filter((k) => !(SYNC_KINDS as readonly string[]).includes(k));
      if (bad.length) throw new UserError(`--what ${bad.join(',')}: not a kind of artifact; use ${SYNC_KINDS.join(', ')}`);
      const hosts = selectHosts(cfg, opts.hosts);
      const files = new Map<SyncKind, Awaited<ReturnType<typeof localFiles>>>();
      for (const k of kinds as SyncKind[]) files.set(k, await localFiles(cfg, k));
      // hosts sharing storage hold the same files: the first of them stands for the rest
      const firstShared = hosts.find((h) => h.shared);
      const sshOpts = sshOptions(cfg, opts.acceptNew);
      const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
      const results = await Promise.allSettled(
        hosts.map(async (host) => {
          const wanted = (kinds as SyncKind[]).filter((k) => needs(cfg, host, k));
          if (host.shared && host !== firstShared) return console.log(`${host.name}: shared storage: synced through ${firstShared!.name}`);
          if (!wanted.length) return console.log(`${host.name}: needs none of ${kinds.join(', ')} (queues ${host.queues.join(', ')})`);
          await withSsh(host, sshOpts, async (client) => {
            for (const kind of wanted) {
              const onEvent = (e: SyncEvent) => {
                if (e.action === 'copied') {
                  console.log(
                    `${host.name}: ${kind}/${e.rel} copied (${mib(e.bytes)}${e.resumedFrom ? `, resumed at ${mib(e.resumedFrom)}` : ''}), sha256 checked`,
                  );
                } else if (e.action === 'would copy') console.log(`${host.name}: ${kind}/${e.rel} would be copied (${mib(e.bytes)})`);
              };
              const events = await syncHost(client, host, kind, files.get(kind)!, { dryRun: opts.dryRun ?? false, onEvent });
              const count = (a: SyncEvent['action']) => events.filter((e) => e.action === a).length;
              console.log(
                `${host.name}: ${kind}: ${count('present')} present, ${opts.dryRun ? `${count('would copy')} to copy` : `${count('copied')} copied`}`,
              );
            }
          });
        }),
      );
      collectErrors(results);
    });
}
