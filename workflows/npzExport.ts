// npz export: check inputs (plan), then export parity-passed games into one compressed .npz.
import { condition, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { NpzExportActivities, NpzExportActivityResult } from '../activities/npzExport';
import { clearly } from './failures';
import type { z } from 'zod';
import type { npzExportInputSchema } from './inputSchemas';
import { phaseInput, tagRun } from './phaseInput';
import { progressQuery, shardProgressSignal, trackShards } from './progress';

export interface NpzExportInput {
  db: string;
  outputDir: string;
  /** file name inside outputDir, or null for <db>.<board>_<n>p.npz */
  outputName: string | null;
  /** fraction of games in the train split */
  splitRatio: number;
  splitSeed: number;
  /** export at most this many parity-passed games (DB order), or null for all */
  maxGames?: number | null;
  activityQueue?: string;
  heartbeatTimeoutSeconds?: number;
  /** the host holding db (its path there) and its sha256: a worker elsewhere pulls it over SFTP */
  dbHost?: string | null;
  dbSha256?: string | null;
}

/** What a run may be started with (Web UI, `temporal` CLI): optional fields come from config. */
export type NpzExportStartInput = z.input<typeof npzExportInputSchema>;

export type NpzExportWorkflowResult = NpzExportActivityResult & { passedGames: number; totalGames: number };

export async function npzExport(raw: NpzExportStartInput): Promise<NpzExportWorkflowResult> {
  const { workflowId } = workflowInfo();
  let tracked = trackShards('plan', 'games', []);
  setHandler(progressQuery, () => tracked.progress);
  setHandler(shardProgressSignal, ({ shard, done }) => tracked.update(shard, done));
  const input = await phaseInput<NpzExportInput>('npzExport', raw);

  const acts = proxyActivities<NpzExportActivities>({
    taskQueue: input.activityQueue ?? 'cpu',
    startToCloseTimeout: '6h',
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds ?? 120}s`,
    retry: {
      maximumAttempts: 3,
      initialInterval: '2s',
      nonRetryableErrorTypes: [
        'BadGameDb',
        'NpzExport:no_games',
        'NpzExport:nothing_passed',
        'NpzExport:output_exists',
        'NpzExport:mixed_config',
        'NpzExport:bad_option',
        'NpzExport:too_large',
        'ArtifactChecksumError',
        'ArtifactMissingError',
      ],
    },
  });

  const dbRef = input.dbHost ? { dbHost: input.dbHost, dbSha256: input.dbSha256 ?? null } : {};
  const plan = await clearly(
    acts.planNpzExport({ db: input.db, outputDir: input.outputDir, outputName: input.outputName, workflowId, ...dbRef }),
  );
  tagRun('npzExport', plan.boardType, plan.numPlayers);
  const toExport = input.maxGames ? Math.min(input.maxGames, plan.passedGames) : plan.passedGames;
  tracked = trackShards('export', 'games', [toExport]);
  const res = await clearly(
    acts.exportNpzFile({
      workflowId,
      db: input.db,
      dbSha256: plan.dbSha256,
      boardType: plan.boardType,
      numPlayers: plan.numPlayers,
      output: plan.output,
      splitRatio: input.splitRatio,
      splitSeed: input.splitSeed,
      maxGames: input.maxGames ?? null,
      ...(input.dbHost ? { dbHost: input.dbHost } : {}),
    }),
  );
  tracked.update(0, toExport, true);
  tracked.progress.phase = 'done';
  await condition(() => true);
  return { ...res, passedGames: plan.passedGames, totalGames: plan.games };
}
