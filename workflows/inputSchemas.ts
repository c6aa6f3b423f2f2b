// The input of every workflow type, one zod schema each: the workflows validate their own input with
// it (deterministic, inside the workflow), the CLI checks what it built against it, and `ringrift
// schema` turns it into JSON Schema for the Web UI and scripts. Optional fields left out take the
// defaults of config/pipeline.yaml on the worker (workflows/phaseInput.ts). Pure: no I/O.
import { z } from 'zod';

export const BOARDS = ['square8', 'square19', 'hex8', 'hexagonal'] as const;

const range = (min: number, max?: number) => (max === undefined ? `at least ${min}` : `between ${min} and ${max}`);
const required = (what: string) => (iss: { input?: unknown }) =>
  iss.input === undefined ? 'is required' : `expected ${what}, got ${JSON.stringify(iss.input)}`;

function int(min: number, max?: number) {
  let s = z.number({ error: required('an integer') }).int({ error: (iss) => `expected an integer, got ${JSON.stringify(iss.input)}` });
  s = s.min(min, { error: (iss) => `must be ${range(min, max)}, got ${String(iss.input)}` });
  if (max !== undefined) s = s.max(max, { error: (iss) => `must be ${range(min, max)}, got ${String(iss.input)}` });
  return s;
}

function fraction(openLo: boolean, openHi: boolean) {
  const text = `${openLo ? '(' : '['}0, 1${openHi ? ')' : ']'}`;
  const err = { error: (iss: { input?: unknown }) => `must be in ${text}, got ${String(iss.input)}` };
  const n = z.number({ error: required('a number') });
  return (openLo ? n.gt(0, err) : n.min(0, err)).refine((x) => (openHi ? x < 1 : x <= 1), err);
}

const text = (what: string) => z.string({ error: required(what) }).min(1, { error: `must not be empty (${what})` });
const seed = int(0, 0xffffffff);
const board = z.enum(BOARDS, {
  error: (iss) => (iss.input === undefined ? 'is required' : `unknown board ${JSON.stringify(iss.input)}: use one of ${BOARDS.join(', ')}`),
});
const queue = z
  .string({ error: required('a task-queue name') })
  .regex(/^[a-z][a-z0-9_-]*$/, { error: 'must be a task-queue name like "cpu" or "gpu"' });
const seconds = z.number({ error: required('a number of seconds') }).positive({ error: 'must be positive' });
const configKey = z.string({ error: required('a config key') }).regex(new RegExp(`^(${BOARDS.join('|')})_[2-4]p$`), {
  error: (iss) => `${JSON.stringify(iss.input)} is not a config key: use <board>_<n>p, e.g. square8_2p`,
});

export const selfplayInputSchema = z.strictObject({
  boardType: board.describe('board: square8, square19, hex8 or hexagonal'),
  numPlayers: int(2, 4).describe('players per game (2-4)'),
  numGames: int(1).describe('games to play'),
  outputDb: text('a file path').describe('game DB to create or append to; relative paths are under the repository root'),
  seed: seed.default(1).describe('run seed: game i is the same whoever plays it'),
  shardSize: int(1).optional().describe('games per shard activity [config: phases.canonical_selfplay.shardSize]'),
  playerMix: z
    .array(text('a player spec'), { error: required('a list of player specs') })
    .min(1, { error: 'give at least one player spec' })
    .optional()
    .describe('one player spec for every seat, or one per seat, e.g. ["heuristic","random"] [config: playerMix]'),
  maxMoves: int(1).optional().describe('stop a game after this many moves [config: maxMoves]'),
  activityQueue: queue.optional().describe('queue that plays the shards [config: queue]'),
  heartbeatTimeoutSeconds: seconds.optional().describe('a shard whose worker is silent this long is retried elsewhere [config]'),
  models: z
    .record(
      z.string(),
      z.strictObject({
        id: text('a model id'),
        path: text('a file path'),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be a sha256 (64 hex digits)' }),
        host: z.string().nullable().optional(),
      }),
    )
    .optional()
    .describe("each neural player's model by ref: {id, path, sha256, host}; a host's file is pulled over SFTP (default: the registry)"),
});

export const parityInputSchema = z.strictObject({
  db: text('a file path').describe('game DB to validate (parity columns are written into it)'),
  sample: int(1).nullable().default(null).describe('validate a seeded sample of this many games; null for every game'),
  seed: seed.default(0).describe('sample seed'),
  shardSize: int(1).optional().describe('games per shard activity [config: phases.parity_validation.shardSize]'),
  failThreshold: fraction(false, false).optional().describe('fail when (failed + error) / checked exceeds this [config: fail_threshold]'),
  reportDir: text('a folder').optional().describe("folder for the report (default: the DB's folder)"),
  external: text('a command line')
    .nullable()
    .default(null)
    .describe('external replayer command line (store/EXTERNAL_REPLAYER.md), or null'),
  activityQueue: queue.optional().describe('queue that validates the shards [config: queue]'),
  heartbeatTimeoutSeconds: seconds.default(60).describe('a shard whose worker is silent this long is retried elsewhere'),
});

export const npzExportInputSchema = z.strictObject({
  db: text('a file path').describe('game DB; only games with parity_status = passed are exported'),
  outputDir: text('a folder').describe('folder for the .npz; an existing file is never overwritten'),
  outputName: text('a file name').nullable().default(null).describe('file name ending in .npz, or null for <db>.<board>_<n>p.npz'),
  splitRatio: fraction(true, true).optional().describe('fraction of games in the train split [config: phases.npz_export.split_ratio]'),
  splitSeed: seed.default(0).describe('seed of the by-game split'),
  maxGames: int(1).nullable().default(null).describe('export at most this many parity-passed games (DB order), or null for all'),
  activityQueue: queue.optional().describe('queue that exports [config: queue]'),
  heartbeatTimeoutSeconds: seconds.default(120).describe('an export whose worker is silent this long is retried elsewhere'),
  dbHost: z.string().nullable().default(null).describe("the host holding db; another host's worker pulls it over SFTP (give dbSha256)"),
  dbSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, { error: 'must be a sha256 (64 hex digits)' })
    .nullable()
    .default(null)
    .describe('sha256 of db, checked after a pull (needed with dbHost)'),
});

const hyperparameters = z.strictObject({
  steps: int(1).optional().describe('optimizer steps [config: phases.train.steps]'),
  batchSize: int(1, 65536).optional().describe('positions per step [config]'),
  learningRate: z.number().positive().optional().describe('peak learning rate [config]'),
  weightDecay: z.number().min(0).optional().describe('AdamW weight decay [config]'),
  warmupSteps: int(0).nullable().optional().describe('warm-up steps; null: a tenth of the steps, at most 200 [config]'),
  preset: z.enum(['cpu', 'gpu']).optional().describe('network size preset [config]'),
  blocks: int(1, 64).nullable().optional().describe("residual blocks; null: the preset's [config]"),
  channels: int(4, 1024).nullable().optional().describe("trunk channels; null: the preset's [config]"),
  windowPositions: int(1).optional().describe('sample from the newest NPZ files up to this many positions [config]'),
  checkpointEvery: int(1).optional().describe('checkpoint interval in steps [config]'),
  seed: seed.optional().describe('data order and initialisation seed (default 1)'),
  threads: int(1).nullable().optional().describe('torch threads on a CPU host; null lets torch choose [config]'),
});

export const trainInputSchema = z.strictObject({
  configKey: configKey.describe('e.g. square8_2p; every NPZ must hold this config'),
  npz: z
    .array(text('a path'), { error: required('a list of NPZ files or folders') })
    .min(1, { error: 'give at least one NPZ file or folder' })
    .describe('NPZ files or folders of them; relative paths are under the repository root'),
  initFrom: text('a model reference').default('scratch').describe('warm start: a model id, best, or scratch'),
  registryDir: text('a folder').optional().describe('the model registry [config: registry.dir]'),
  hyperparameters: hyperparameters.default({}).describe('training settings; each one left out comes from config'),
  queue: queue.optional().describe('preferred queue for the training activity [config: phases.train.queue]'),
  fallbackQueue: queue.optional().describe('queue used when no worker polls the preferred one [config]'),
  heartbeatTimeoutSeconds: seconds.optional().describe('training heartbeat timeout [config]'),
});

const playerSpec = text('a player spec');
const sprtSettings = z.strictObject({
  elo0: z.number({ error: required('a number') }).describe('H0: Elo difference'),
  elo1: z.number({ error: required('a number') }).describe('H1: Elo difference (above elo0)'),
  alpha: fraction(true, true).describe('false-pass rate'),
  beta: fraction(true, true).describe('false-fail rate'),
  maxGames: int(2).describe('most games against the best'),
});

// The gauntlet's settings, each one left out taken from config phases.gauntlet. Shared by `promote`.
const gauntletSettings = {
  boardType: board.optional().describe('must match configKey (derived from it when left out)'),
  numPlayers: int(2, 4).optional().describe('must match configKey (derived from it when left out)'),
  registryDir: text('a folder').optional().describe('the model registry [config: registry.dir]'),
  candidateTemplate: text('a player spec with {model}').optional().describe('player spec a model id plays as [config: candidatePlayer]'),
  baselines: z.array(playerSpec).min(1, { error: 'give at least one baseline' }).optional().describe('baseline player specs [config]'),
  includeBest: z.boolean().optional().describe('play the current best under the SPRT [config]'),
  earlierBests: int(0).optional().describe('also rate against this many earlier bests [config]'),
  gamesPerOpponent: int(1).optional().describe('games against each baseline and earlier best [config: gamesPerBaseline]'),
  seed: seed.optional().describe('run seed (default: from the clock, so each run has fresh seeds)'),
  roundsPerShard: int(1).optional().describe('rounds per shard activity [config]'),
  maxMoves: int(1).optional().describe('stop a game after this many moves [config]'),
  evalDir: text('a folder').optional().describe('evaluation DBs go to <evalDir>/<configKey>/<workflowId>.db [config]'),
  sprt: sprtSettings.nullable().optional().describe('the SPRT against best; null: a fixed gamesPerOpponent [config]'),
  floors: z.record(z.string(), fraction(false, false)).optional().describe('minimum win rate (Wilson lower bound) per baseline [config]'),
  parallelShards: int(1).optional().describe('SPRT shards in flight between two looks at the LLR [config]'),
  activityQueue: queue.optional().describe('queue that plays the games [config: queue]'),
  heartbeatTimeoutSeconds: seconds.optional().describe('a shard whose worker is silent this long is retried elsewhere [config]'),
};

const participant = z.strictObject({ name: text('a name'), spec: playerSpec, modelId: z.string().nullable() });

export const gauntletInputSchema = z.strictObject({
  configKey: configKey.describe('e.g. square8_2p'),
  candidate: text('a model id or player spec').describe('a registry model id (played as candidateTemplate) or a plain player spec'),
  ...gauntletSettings,
  plan: z
    .strictObject({ candidate: participant, opponents: z.array(participant.extend({ role: z.enum(['baseline', 'best', 'earlier']) })) })
    .optional()
    .describe("internal (the promotion's regression check): play exactly these, skip planning"),
});

export const promoteInputSchema = z.strictObject({
  mode: z.enum(['promote', 'rollback']).default('promote').describe('promote a candidate, or roll best back to the previous one'),
  configKey: configKey.describe('e.g. square8_2p'),
  candidate: text('a model id').optional().describe('promote: the registered model id (required)'),
  skipGates: z.boolean().default(false).describe('promote without the gauntlet (the regression check still runs)'),
  reason: text('a reason').optional().describe('rollback: recorded with it'),
  registryDir: text('a folder').optional().describe('the model registry [config: registry.dir]'),
  gauntlet: z
    .strictObject({ configKey: configKey.optional().describe('must match'), ...gauntletSettings })
    .default({})
    .describe('gauntlet settings of step 2; each one left out comes from config phases.gauntlet'),
  regressionGames: int(0).optional().describe('games of the new best against the previous one [config: phases.promote]'),
  regressionMarginElo: z
    .number()
    .optional()
    .describe('roll back when worse than the previous best by more than this (negative: demand a gain) [config]'),
  reloadQueues: z.array(queue).optional().describe('queues whose workers reload best [config: health.queues]'),
});

// The improvement loop's settings: the start input and the update-config signal share them.
const loopSettings = {
  weights: z
    .record(z.string(), z.number().min(0, { error: 'must be at least 0' }))
    .optional()
    .describe('curriculum base weight per config key; unlisted keys: 1 [config: loop.curriculum.weights]'),
  adapt: z.number().min(0).optional().describe('keys whose Elo rose least get up to (1 + adapt) × their weight [config: loop.curriculum]'),
  gamesPerBatch: int(1).optional().describe('self-play games per step [config: loop.gamesPerBatch]'),
  minNewPositions: int(0).optional().describe('train a key once this many positions arrived since its last training [config: loop]'),
  maxConsecutiveFailures: int(1).optional().describe('pause the loop after this many failed steps in a row [config: loop]'),
  maxIterations: int(1).nullable().optional().describe('end after this many steps (halted ones not counted); null: run until stopped'),
  selfplayPlayer: playerSpec
    .nullable()
    .optional()
    .describe("self-play player spec; null: the iteration's choice [config: phases.iteration]"),
  trainSteps: int(1).nullable().optional().describe('training steps; null: phases.iteration.trainSteps'),
  skipGates: z.boolean().optional().describe('promote without the gauntlet gates (tests only); default false'),
  dataDir: text('a folder').nullable().optional().describe('games and NPZ go under it; null: phases.iteration.dataDir'),
  registryDir: text('a folder').nullable().optional().describe('the model registry; null: registry.dir'),
};

/** What update-config may change. */
export const loopSettingsUpdateSchema = z.strictObject(loopSettings);

export const improvementLoopInputSchema = z.strictObject({
  configKeys: z
    .array(configKey, { error: required('a list of config keys') })
    .min(1, { error: 'give at least one config key' })
    .describe('the config keys this loop trains, e.g. ["square8_2p","hex8_2p"]'),
  seed: seed.default(1).describe('loop seed; each step derives its own'),
  ...loopSettings,
  state: z.looseObject({}).optional().describe('internal: the state a continued run carries (continue-as-new); leave it out'),
});

export const nightlyPromotionInputSchema = z.strictObject({
  configKey: configKey.describe('e.g. square8_2p'),
  maxCandidates: int(1).optional().describe('judge at most the newest n untested candidates [config: nightly.maxCandidates]'),
  registryDir: text('a folder').optional().describe('the model registry [config: registry.dir]'),
  gauntlet: z
    .strictObject(gauntletSettings)
    .default({})
    .describe("each promotion's gauntlet settings; each one left out comes from config phases.gauntlet"),
});

export const trainingIterationInputSchema = z.strictObject({
  configKey: configKey.describe('e.g. square8_2p'),
  games: int(1).optional().describe('self-play games this iteration [config: phases.iteration.games]'),
  seed: seed.optional().describe('iteration seed; the self-play and gauntlet seeds derive from it (default: from the clock)'),
  iteration: int(0).default(0).describe("the loop's iteration counter, for ids and lineage"),
  selfplayPlayer: text('a player spec')
    .optional()
    .describe('self-play player; default: phases.iteration.bestPlayer with the best model, else firstPlayer [config]'),
  trainSteps: int(1).optional().describe('training steps [config: phases.iteration.trainSteps]'),
  skipGates: z.boolean().default(false).describe('promote without the gauntlet gates (tests only)'),
  collectOnly: z.boolean().default(false).describe("self-play, parity and export only (the loop's collect steps)"),
  dataDir: text('a folder').optional().describe('games and NPZ files go under it [config: phases.iteration.dataDir]'),
  registryDir: text('a folder').optional().describe('the model registry [config: registry.dir]'),
});

export const clusterHealthInputSchema = z.strictObject({
  queues: z.array(queue).min(1).optional().describe('queues to probe [config: health.queues]'),
  scheduleToStartSeconds: seconds.optional().describe('a queue with no poller is reported after this long [config]'),
});

/** Every workflow type with its input schema and, for pipeline phases, the RingRiftPhase it carries. */
export const WORKFLOW_INPUTS = {
  canonicalSelfplay: { schema: selfplayInputSchema, phase: 'canonical_selfplay', queue: 'cpu' },
  parityValidation: { schema: parityInputSchema, phase: 'parity_validation', queue: 'cpu' },
  npzExport: { schema: npzExportInputSchema, phase: 'npz_export', queue: 'cpu' },
  train: { schema: trainInputSchema, phase: 'train', queue: 'cpu' },
  gauntlet: { schema: gauntletInputSchema, phase: 'gauntlet', queue: 'cpu' },
  promote: { schema: promoteInputSchema, phase: 'promote', queue: 'cpu' },
  clusterHealth: { schema: clusterHealthInputSchema, phase: null, queue: 'cpu' },
  trainingIteration: { schema: trainingIterationInputSchema, phase: 'iteration', queue: 'cpu' },
  improvementLoop: { schema: improvementLoopInputSchema, phase: 'loop', queue: 'cpu' },
  nightlyPromotion: { schema: nightlyPromotionInputSchema, phase: 'nightly_promotion', queue: 'cpu' },
} as const;

export type WorkflowType = keyof typeof WORKFLOW_INPUTS;

/** One line per problem, `field: reason`, in the order zod found them. */
export function inputProblems(error: z.ZodError, rename: (field: string) => string = (f) => f): string[] {
  return error.issues.map((issue) => {
    const field = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      const keys = (issue as { keys: string[] }).keys;
      return keys.map((k) => `${rename(field ? `${field}.${k}` : k)}: unknown field: remove it`).join('\n');
    }
    return `${field ? rename(field) : '(input)'}: ${issue.message}`;
  });
}

/** Parses `raw` as `type`'s input: the parsed value, or every problem as one line each. */
export function parseWorkflowInput<T extends WorkflowType>(
  type: T,
  raw: unknown,
): { ok: true; value: z.output<(typeof WORKFLOW_INPUTS)[T]['schema']> } | { ok: false; problems: string[] } {
  const r = WORKFLOW_INPUTS[type].schema.safeParse(raw);
  return r.success
    ? { ok: true, value: r.data as z.output<(typeof WORKFLOW_INPUTS)[T]['schema']> }
    : { ok: false, problems: inputProblems(r.error) };
}
