// Training activities: check the inputs (plan), run `python -m trainer train` as a child process
// (heartbeats from its JSON lines, resumable from its checkpoint), register the checked ONNX model.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { REPO_ROOT } from '../config/load';
import { fileSha256 } from '../store/gameDb';
import { RegistryError, getModel, modelId, registerModel, resolveModel, withRegistry } from '../store/registry';
import { TrainingNpzError, describeTrainingNpz, expandNpzInputs, type TrainingNpzInfo } from '../store/trainingNpz';
import { runChild } from '../workers/childProcesses';
import { gitCommit } from './npzExport';
import type { LoadedConfig } from '../config/load';
import { ARTIFACT_DATA_FAILURES, refOf, resolveArtifact, type ArtifactRef, type ResolveContext } from '../store/artifacts';
import { artifactResolver, workerHost } from '../workers/artifactHost';
import { TRAINER_EXIT_FAILURES } from './trainFailures';
import { recordTrainingProgress, recordTrainingStart } from '../workers/metrics';

export interface TrainHyperparameters {
  steps: number;
  batchSize: number;
  learningRate: number;
  weightDecay: number;
  /** null: the trainer's default */
  warmupSteps: number | null;
  preset: 'cpu' | 'gpu';
  blocks: number | null;
  channels: number | null;
  windowPositions: number;
  checkpointEvery: number;
  seed: number;
  threads: number | null;
}

export interface TrainPlanInput {
  configKey: string;
  npz: string[];
  /** `scratch`, `best` or a model id */
  initFrom: string;
  registryDir: string;
}

export interface ParentModel {
  id: string;
  checkpoint: ArtifactRef;
}

export interface TrainPlan {
  /** the planning worker's host: where the NPZ files and the parent checkpoint are (absent: shared storage) */
  host?: string;
  configKey: string;
  data: TrainingNpzInfo[];
  parent: ParentModel | null;
  trainPositions: number;
  valPositions: number;
}

export interface TrainRunInput {
  workflowId: string;
  configKey: string;
  registryDir: string;
  data: ArtifactRef[];
  parent: ParentModel | null;
  hyperparameters: TrainHyperparameters;
}

/** What a heartbeat carries; a retry reads it back to say where it resumes. */
export interface TrainHeartbeat {
  step: number;
  totalSteps: number;
  policyLoss: number | null;
  valueLoss: number | null;
  positionsPerSecond: number | null;
  checkpointStep: number | null;
  checkpoint: string | null;
  /** HeartbeatProgress (workflows/progress.ts): what `pipeline status` and the progress bar show */
  done?: number;
  detail?: string;
}

export interface TrainRunResult {
  onnx: ArtifactRef;
  checkpoint: string;
  /** the checkpoint with its sha256 and host (so a register on another host can pull it) */
  checkpointRef?: ArtifactRef;
  runDir: string;
  steps: number;
  /** the step this attempt resumed from (null: it started fresh) */
  resumedFrom: number | null;
  attempt: number;
  queue: string;
  workerIdentity: string;
  device: string;
  architecture: Record<string, unknown>;
  params: number;
  metrics: Record<string, unknown>;
  exportMaxAbsDiff: { policy: number; value: number };
  seconds: number;
}

export interface RegisterTrainedInput {
  workflowId: string;
  configKey: string;
  registryDir: string;
  run: TrainRunResult;
  parentId: string | null;
  data: TrainingNpzInfo[];
  hyperparameters: TrainHyperparameters;
}

export interface RegisteredModel {
  id: string;
  path: string;
  sha256: string;
  created: boolean;
}

function python(): string {
  const venv = path.join(REPO_ROOT, '.venv', 'bin', 'python');
  return fs.existsSync(venv) ? venv : 'python3';
}

/** The run folder is named by the workflow, so a retry on any worker finds the checkpoint. */
export function trainRunDir(registryDir: string, workflowId: string): string {
  return path.join(registryDir, 'runs', workflowId.replace(/[^A-Za-z0-9_.-]/g, '_'));
}

function trainerArgs(input: TrainRunInput, runDir: string): string[] {
  const hp = input.hyperparameters;
  const args = ['-m', 'trainer', 'train', '--npz', ...input.data.map((d) => d.path), '--config-key', input.configKey, '--out-dir', runDir];
  const opt = (flag: string, v: number | string | null) => (v === null ? [] : [flag, String(v)]);
  args.push(
    ...opt('--steps', hp.steps),
    ...opt('--batch-size', hp.batchSize),
    ...opt('--lr', hp.learningRate),
    ...opt('--weight-decay', hp.weightDecay),
    ...opt('--warmup-steps', hp.warmupSteps),
    ...opt('--window-positions', hp.windowPositions),
    ...opt('--checkpoint-every', hp.checkpointEvery),
    ...opt('--seed', hp.seed),
    ...opt('--threads', hp.threads),
  );
  if (hp.blocks !== null || hp.channels !== null) args.push(...opt('--blocks', hp.blocks), ...opt('--channels', hp.channels));
  else args.push('--preset', hp.preset);
  if (input.parent) args.push('--init-checkpoint', input.parent.checkpoint.path);
  return args;
}

function freshHeartbeat(input: TrainRunInput): TrainHeartbeat {
  return {
    step: 0,
    totalSteps: input.hyperparameters.steps,
    policyLoss: null,
    valueLoss: null,
    positionsPerSecond: null,
    checkpointStep: null,
    checkpoint: null,
  };
}

/**
 * A local file for each input of a training run: a ref naming another host is pulled over SFTP
 * (checked, cached); one without is checked in place as before.
 */
async function localInputs(input: TrainRunInput, ctx: ResolveContext): Promise<TrainRunInput> {
  const local = async (ref: ArtifactRef, what: string): Promise<ArtifactRef> => {
    if (!ref.host) {
      await checkRef(ref, what);
      return ref;
    }
    try {
      const got = await resolveArtifact(ref, ctx);
      if (got.via === 'pull') log.info('pulled training input', { what, host: ref.host, bytes: got.bytes, resumedFrom: got.resumedFrom });
      return { path: got.path, sha256: ref.sha256 };
    } catch (err) {
      // gone or altered at the source: the run's plan no longer holds; a lost connection retries
      if (ARTIFACT_DATA_FAILURES.includes((err as Error).name)) {
        throw ApplicationFailure.nonRetryable(`${what}: ${(err as Error).message}`, 'Train:bad_input_plan');
      }
      throw err;
    }
  };
  const data: ArtifactRef[] = [];
  for (const d of input.data) data.push(await local(d, 'NPZ'));
  const parent = input.parent
    ? { ...input.parent, checkpoint: await local(input.parent.checkpoint, `checkpoint of ${input.parent.id}`) }
    : null;
  return { ...input, data, parent };
}

async function checkRef(ref: ArtifactRef, what: string): Promise<void> {
  if (!fs.existsSync(ref.path)) throw ApplicationFailure.nonRetryable(`${what} ${ref.path} is gone`, 'Train:bad_input_plan');
  const sha = await fileSha256(ref.path);
  if (sha !== ref.sha256) {
    throw ApplicationFailure.nonRetryable(
      `${what} ${ref.path} changed since the run was planned (sha256 ${sha.slice(0, 12)}…)`,
      'Train:bad_input_plan',
    );
  }
}

export function createTrainActivities(deps: { client: Client; identity: string; config?: LoadedConfig }) {
  return {
    /** Every NPZ readable and of this config key, a training split, the warm-start model of this config key. */
    async planTraining(input: TrainPlanInput): Promise<TrainPlan> {
      try {
        const files = expandNpzInputs(input.npz);
        const data: TrainingNpzInfo[] = [];
        for (const f of files) data.push(await describeTrainingNpz(f, input.configKey));
        const trainPositions = data.reduce((n, d) => n + d.trainPositions, 0);
        const valPositions = data.reduce((n, d) => n + d.valPositions, 0);
        if (trainPositions === 0) {
          throw new TrainingNpzError(`the training split of ${files.join(', ')} is empty: export more games (or a lower --split-ratio)`);
        }
        let parent: ParentModel | null = null;
        if (input.initFrom !== 'scratch') {
          const m = resolveModel(input.registryDir, input.configKey, input.initFrom);
          if (!m.checkpointPath || !m.checkpointSha256) {
            throw new TrainingNpzError(`model ${m.id} has no training checkpoint to warm-start from: use --init-from scratch`);
          }
          parent = { id: m.id, checkpoint: { path: m.checkpointPath, sha256: m.checkpointSha256 } };
        }
        const host = workerHost(deps.config).name;
        return { ...(host ? { host } : {}), configKey: input.configKey, data, parent, trainPositions, valPositions };
      } catch (err) {
        if (err instanceof TrainingNpzError || err instanceof RegistryError) {
          throw ApplicationFailure.nonRetryable(err.message, 'Train:bad_input_plan');
        }
        throw err;
      }
    },

    /** Runs the trainer to the target step; a retry resumes from the run folder's checkpoint. */
    async trainModel(planned: TrainRunInput): Promise<TrainRunResult> {
      const ctx = Context.current();
      const info = ctx.info;
      const started = Date.now();
      const host = workerHost(deps.config).name;
      const resolver = artifactResolver({
        config: deps.config,
        signal: ctx.cancellationSignal,
        // a pull's offset rides on the training heartbeat (a retry still reads a TrainHeartbeat back)
        onProgress: (pull) =>
          ctx.heartbeat({ ...((info.heartbeatDetails as TrainHeartbeat | undefined) ?? freshHeartbeat(planned)), pull }),
      });
      let input: TrainRunInput;
      try {
        input = await localInputs(planned, resolver.ctx);
      } finally {
        resolver.close();
      }
      const runDir = trainRunDir(input.registryDir, input.workflowId);
      fs.mkdirSync(runDir, { recursive: true });
      const previous = info.heartbeatDetails as TrainHeartbeat | undefined;
      if (previous) log.info('training retry: the last attempt reported', { attempt: info.attempt, ...previous });

      const hb: TrainHeartbeat = previous ?? freshHeartbeat(input);
      let resumedFrom: number | null = null;
      let device = 'cpu';
      let architecture: Record<string, unknown> = {};
      let params = 0;
      let onnx: ArtifactRef | null = null;
      let diffs = { policy: NaN, value: NaN };
      let metrics: Record<string, unknown> | null = null;
      let lastError: { code?: string; message?: string; step?: number } | null = null;
      const stderrTail: string[] = [];

      // progress travels in the heartbeat details (step and a line of losses), not in signals
      const beat = () => ctx.heartbeat({ ...hb, done: hb.step, detail: detail() });
      const detail = () =>
        [
          hb.policyLoss !== null ? `policy loss ${hb.policyLoss.toFixed(3)}` : null,
          hb.valueLoss !== null ? `value loss ${hb.valueLoss.toFixed(3)}` : null,
          hb.positionsPerSecond !== null ? `${Math.round(hb.positionsPerSecond)} pos/s` : null,
          `on ${info.taskQueue}`,
        ]
          .filter(Boolean)
          .join(' | ');
      const onEvent = (e: Record<string, unknown>) => {
        switch (e.event) {
          case 'start':
            device = String(e.device ?? device);
            architecture = (e.architecture as Record<string, unknown>) ?? {};
            params = Number(e.params ?? 0);
            recordTrainingStart(input.configKey, hb.step);
            break;
          case 'resume':
            resumedFrom = Number(e.step);
            hb.step = resumedFrom;
            recordTrainingStart(input.configKey, resumedFrom);
            log.info('training resumed from checkpoint', { step: resumedFrom, checkpoint: e.checkpoint, attempt: info.attempt });
            break;
          case 'step':
            hb.step = Number(e.step);
            hb.policyLoss = Number(e.policy_loss);
            hb.valueLoss = Number(e.value_loss);
            hb.positionsPerSecond = Number(e.positions_per_s);
            recordTrainingProgress(input.configKey, hb);
            break;
          case 'checkpoint':
            hb.checkpointStep = Number(e.step);
            hb.checkpoint = String(e.path);
            break;
          case 'export':
            onnx = { path: String(e.onnx), sha256: String(e.sha256) };
            diffs = { policy: Number(e.max_abs_diff_policy), value: Number(e.max_abs_diff_value) };
            break;
          case 'done':
            hb.step = Number(e.step);
            metrics = (e.metrics as Record<string, unknown>) ?? {};
            // the loss of the last step this attempt trained (a resume at the target step trains none)
            if (Number.isFinite(hb.policyLoss) && Number.isFinite(hb.valueLoss))
              metrics = { train_loss: hb.policyLoss! + hb.valueLoss!, ...metrics };
            break;
          case 'error':
            lastError = e as typeof lastError;
            break;
        }
        beat();
      };

      // Heartbeat on a timer too: torch start-up and data loading print nothing for a while.
      const timer = setInterval(beat, 2000);
      let res;
      try {
        res = await runChild(python(), trainerArgs(input, runDir), {
          cwd: REPO_ROOT,
          env: { ...process.env, PYTHONUNBUFFERED: '1', RINGRIFT_TRAINER_WATCH_STDIN: '1' },
          // stdin stays open: the trainer exits when it closes, so a SIGKILLed worker leaves no trainer behind.
          stdio: ['pipe', 'pipe', 'pipe'],
          signal: ctx.cancellationSignal,
          onSpawn: (child) => {
            readline.createInterface({ input: child.stdout! }).on('line', (line) => {
              if (!line.startsWith('{')) return;
              try {
                onEvent(JSON.parse(line) as Record<string, unknown>);
              } catch {
                /* not an event line */
              }
            });
            readline.createInterface({ input: child.stderr! }).on('line', (line) => {
              stderrTail.push(line);
              if (stderrTail.length > 20) stderrTail.shift();
            });
          },
        });
      } catch (err) {
        throw ApplicationFailure.retryable(
          `cannot start the trainer (${python()}): ${(err as Error).message}: run 'npm run setup'`,
          'Train:env',
        );
      } finally {
        clearInterval(timer);
      }
      // let readline drain the last lines
      await new Promise((r) => setImmediate(r));
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('training cancelled; the trainer was stopped');
      const err = lastError as { code?: string; message?: string; step?: number } | null;
      if (res.code !== 0) {
        const why = err?.message ?? stderrTail.slice(-5).join(' / ') ?? 'no output';
        const type = res.code !== null ? TRAINER_EXIT_FAILURES[res.code] : undefined;
        if (type) throw ApplicationFailure.nonRetryable(why, type);
        throw ApplicationFailure.retryable(`trainer exited with ${res.code ?? res.signal} at step ${hb.step}: ${why}`, 'Train:crashed');
      }
      const out = onnx as ArtifactRef | null;
      if (!out || !metrics) throw ApplicationFailure.retryable('trainer exited 0 without exporting a model', 'Train:crashed');
      const checkpoint = hb.checkpoint ?? path.join(runDir, 'checkpoint.pt');
      return {
        onnx: { ...out, ...(host ? { host } : {}) },
        checkpoint,
        ...(host && fs.existsSync(checkpoint) ? { checkpointRef: await refOf(checkpoint, host) } : {}),
        runDir,
        steps: hb.step,
        resumedFrom,
        attempt: info.attempt,
        queue: info.taskQueue,
        workerIdentity: deps.identity,
        device,
        architecture,
        params,
        metrics,
        exportMaxAbsDiff: diffs,
        seconds: (Date.now() - started) / 1000,
      };
    },

    /** Adds the checked model as a `candidate` (idempotent: the id comes from the file's sha256). */
    async registerTrainedModel(input: RegisterTrainedInput): Promise<RegisteredModel> {
      const id = modelId(input.configKey, input.run.onnx.sha256);
      const self = workerHost(deps.config).name;
      if (input.run.onnx.host && input.run.onnx.host !== self) input = await pullRunOutputs(input, deps.config);
      try {
        return registerIn(input, id);
      } catch (err) {
        if (err instanceof RegistryError) throw ApplicationFailure.nonRetryable(err.message, 'Registry:bad_input');
        throw err;
      }
    },
  };
}

/** The trained files of a run on another host (the gpu worker's), pulled into this worker's cache. */
async function pullRunOutputs(input: RegisterTrainedInput, config: LoadedConfig | undefined): Promise<RegisterTrainedInput> {
  const ctx = Context.current();
  const r = artifactResolver({ config, signal: ctx.cancellationSignal, onProgress: (pull) => ctx.heartbeat({ pull }) });
  try {
    const onnx = await resolveArtifact(input.run.onnx, r.ctx);
    const ckpt = input.run.checkpointRef ? await resolveArtifact(input.run.checkpointRef, r.ctx) : null;
    return {
      ...input,
      run: { ...input.run, onnx: { path: onnx.path, sha256: input.run.onnx.sha256 }, checkpoint: ckpt?.path ?? input.run.checkpoint },
    };
  } catch (err) {
    if (ARTIFACT_DATA_FAILURES.includes((err as Error).name)) {
      throw ApplicationFailure.nonRetryable(`trained model: ${(err as Error).message}`, 'Registry:bad_input');
    }
    throw err;
  } finally {
    r.close();
  }
}

function registerIn(input: RegisterTrainedInput, id: string): RegisteredModel {
  return withRegistry(
    input.registryDir,
    (reg) => {
      const existing = getModel(reg, id);
      let created = false;
      if (!existing) {
        const r = registerModel(reg, {
          configKey: input.configKey,
          onnxFile: input.run.onnx.path,
          expectedSha256: input.run.onnx.sha256,
          checkpointFile: input.run.checkpoint,
          architecture: input.run.architecture,
          params: input.run.params,
          parentId: input.parentId,
          trainingData: input.data.map((d) => ({
            path: d.path,
            sha256: d.sha256,
            positions: d.positions,
            sourceDb: d.sourceDb,
            sourceDbSha256: d.sourceDbSha256,
          })),
          hyperparameters: { ...input.hyperparameters },
          metrics: { ...input.run.metrics, exportMaxAbsDiff: input.run.exportMaxAbsDiff, device: input.run.device, queue: input.run.queue },
          gitCommit: gitCommit(),
          workflowId: input.workflowId,
        });
        created = r.created;
      }
      const m = getModel(reg, id)!;
      // The registry now holds the model and its checkpoint; the run folder has done its job.
      fs.rmSync(input.run.runDir, { recursive: true, force: true });
      return { id: m.id, path: m.path, sha256: m.sha256, created };
    },
    { create: true },
  );
}

export type TrainActivities = ReturnType<typeof createTrainActivities>;
