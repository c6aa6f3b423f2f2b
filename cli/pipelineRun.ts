// Starting a pipeline workflow from the CLI: search attributes, readable ids, live progress, clear failures.
import cliProgress from 'cli-progress';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadedConfig } from '../config/load';
import { describePollers } from '../activities/health';
import { readRun, type RunState } from './runState';
import { WORKFLOW_QUEUE } from '../workers/run';
import { ensureSearchAttributes } from './devServer';
import { connectOrExplain } from './commands/cluster';
import { UserError } from './errors';
import { WORKFLOW_INPUTS, parseWorkflowInput, type WorkflowType } from '../workflows/inputSchemas';

export function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
}

export interface PhaseStart {
  workflowType: string;
  workflowId: string;
  args: unknown[];
  board: string;
  configKey: string;
  phase: string;
  wait: boolean;
  /** One line describing the result, once the workflow completed. */
  describeResult: (result: unknown) => string;
  /** How the waiting CLI reads the run's progress (default readRun; an iteration shows its running phase's bar). */
  readState?: (client: Client, workflowId: string) => Promise<RunState>;
}

/** The run's page in the Web UI: temporal.webUi, else the dev server's UI when the CLI talks to the dev server. */
export function uiLink(cfg: LoadedConfig, workflowId: string): string {
  const { dev, temporal } = cfg.pipeline;
  const base =
    temporal.webUi?.replace(/\/+$/, '') ?? (temporal.address === `${dev.ip}:${dev.port}` ? `http://${dev.ip}:${dev.uiPort}` : null);
  if (!base) return `none configured for ${temporal.address} (set temporal.webUi or RINGRIFT_TEMPORAL_UI)`;
  return `${base}/namespaces/${temporal.namespace}/workflows/${encodeURIComponent(workflowId)}`;
}

async function waitWithProgress(client: Client, workflowId: string, read = readRun): Promise<unknown> {
  const handle = client.workflow.getHandle(workflowId);
  const interactive = process.stderr.isTTY === true;
  const bar = new cliProgress.SingleBar(
    {
      format: '{phase} |{bar}| {value}/{total} {unit} | {detail} | {duration_formatted}',
      hideCursor: interactive,
      noTTYOutput: !interactive,
      notTTYSchedule: 5000,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const result = handle.result();
  let finished = false;
  result.then(
    () => (finished = true),
    () => (finished = true),
  );
  let shown = '';
  const refresh = async () => {
    let state;
    try {
      state = await read(client, workflowId);
    } catch {
      return; // the server is busy or the run is just starting: try again
    }
    // a run that cannot move says why, in one line, as soon as it is seen (and again when it changes)
    const problem = state.problems.join('; ');
    if (problem !== shown) {
      if (problem) console.error(`${started ? '\n' : ''}stalled: ${problem}`);
      shown = problem;
    }
    const p = state.progress;
    if (!p || p.target === 0) return; // still planning
    const shardsDone = p.shardsDone ?? p.shards.filter((s) => s.status === 'done').length;
    const payload = {
      phase: p.phase.padEnd(8),
      unit: p.unit,
      detail: p.detail ?? `shards ${shardsDone}/${p.shardsTotal ?? p.shards.length}`,
    };
    if (!started) {
      bar.start(p.target, p.done, payload);
      started = true;
    } else {
      bar.setTotal(p.target);
      bar.update(p.done, payload);
    }
  };
  while (!finished) {
    await refresh();
    await Promise.race([result.catch(() => undefined), sleep(500)]);
  }
  await refresh(); // show the final state
  if (started) bar.stop();
  return result;
}

export async function startPhase(cfg: LoadedConfig, start: PhaseStart): Promise<void> {
  // The workflow validates its input with the same schema; a refusal here is a CLI bug, caught before starting.
  if (start.workflowType in WORKFLOW_INPUTS) {
    const parsed = parseWorkflowInput(start.workflowType as WorkflowType, start.args[0]);
    if (!parsed.ok)
      throw new UserError(`the ${start.workflowType} input built from these options is invalid: ${parsed.problems.join('; ')}`);
  }
  const client = await connectOrExplain(cfg);
  try {
    const ns = cfg.pipeline.temporal.namespace;
    await ensureSearchAttributes(client.connection, ns, cfg.pipeline.searchAttributes);
    const [q] = await describePollers(client, ns, [WORKFLOW_QUEUE]);
    if (!q || q.workflowPollers.length === 0) {
      console.error(
        `note: no worker polls queue "${WORKFLOW_QUEUE}"; the run waits until one starts ('ringrift dev up' or 'ringrift worker --queue ${WORKFLOW_QUEUE}')`,
      );
    }
    try {
      await client.workflow.start(start.workflowType, {
        taskQueue: WORKFLOW_QUEUE,
        workflowId: start.workflowId,
        args: start.args,
        searchAttributes: { RingRiftBoard: [start.board], RingRiftConfigKey: [start.configKey], RingRiftPhase: [start.phase] },
      });
    } catch (err) {
      if ((err as Error).name === 'WorkflowExecutionAlreadyStartedError') {
        throw new UserError(`workflow id ${start.workflowId} is already in use: pass another --workflow-id`);
      }
      throw err;
    }
    console.log(`started ${start.phase}: workflow ${start.workflowId}`);
    console.log(`  web UI: ${uiLink(cfg, start.workflowId)}`);
    if (!start.wait) {
      console.log(`  follow it with: ringrift pipeline status ${start.workflowId}`);
      return;
    }
    try {
      const result = await waitWithProgress(client, start.workflowId, start.readState);
      console.log(start.describeResult(result));
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        const cause = err.cause as Error | undefined;
        throw new UserError(`${start.phase} ${start.workflowId} failed: ${cause?.message ?? err.message}`, 1);
      }
      throw err;
    }
  } finally {
    await client.connection.close();
  }
}
