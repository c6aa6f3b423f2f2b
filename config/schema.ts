// zod schemas for config/pipeline.yaml and config/hosts.yaml.
import { z } from 'zod';

export const QUEUE_NAME = /^[a-z][a-z0-9_-]*$/;
const queueName = z.string().regex(QUEUE_NAME, 'must be a task-queue name like "cpu" or "gpu"');
const port = z.number().int().min(1).max(65535);
const positiveInt = z.number().int().positive();
const seconds = z.number().positive();
const nullablePath = z.string().min(1).nullable().default(null);

export const SEARCH_ATTRIBUTE_TYPES = ['Text', 'Keyword', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList'] as const;

const tlsSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    clientCertPath: nullablePath,
    clientKeyPath: nullablePath,
    serverCaPath: nullablePath,
    serverName: z.string().min(1).nullable().default(null),
  })
  .superRefine((tls, ctx) => {
    if ((tls.clientCertPath === null) !== (tls.clientKeyPath === null)) {
      ctx.addIssue({
        code: 'custom',
        path: [tls.clientCertPath === null ? 'clientCertPath' : 'clientKeyPath'],
        message: 'clientCertPath and clientKeyPath must be given together',
      });
    }
  });

const queueSettings = z.strictObject({
  maxConcurrentActivities: positiveInt,
  maxConcurrentWorkflowTasks: positiveInt,
});

const phaseBase = { queue: queueName.optional() };

/** phases.iteration when a config leaves it out (the same values as config/pipeline.yaml) */
const ITERATION_DEFAULTS = {
  games: 400,
  firstPlayer: 'heuristic',
  bestPlayer: 'mcts:{model}:sims=32',
  trainSteps: 200,
  dataDir: 'data',
  gauntlet: {
    gamesPerBaseline: 30,
    candidatePlayer: 'mcts:{model}:sims=32',
    floors: { random: 0.6 },
    sprt: { elo0: 0, elo1: 50, alpha: 0.05, beta: 0.05, maxGames: 200 },
  },
  regressionGames: 0,
  heartbeatTimeoutSeconds: null,
  train: { batchSize: 128, blocks: 4, channels: 32 },
};

/** Per-worker Prometheus endpoint (/metrics, /health): workers/metricsServer.ts. */
const metricsSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** the address the endpoint binds; anything but loopback needs a token */
  host: z.string().min(1).default('127.0.0.1'),
  /** this worker process's port, overriding `ports` (RINGRIFT_METRICS_PORT); 0: any free port */
  port: z.number().int().min(0).max(65535).nullable().default(null),
  /** port per queue; a queue not listed gets any free port (its log names it) */
  ports: z.record(queueName, z.number().int().min(0).max(65535)).default({}),
  /** bearer token required by the endpoint (RINGRIFT_METRICS_TOKEN); prefer the environment */
  token: z.string().min(16, 'use at least 16 characters').nullable().default(null),
  /** Temporal SDK runtime metrics (Runtime.install, Prometheus), merged into /metrics */
  runtimeMetrics: z.boolean().default(true),
  health: z
    .strictObject({
      /** how often the worker checks its connection to Temporal */
      checkSeconds: seconds.default(2),
      /** /health turns 503 when Temporal has not answered for this long */
      disconnectedAfterSeconds: seconds.default(10),
      /** activity failures counted over this window ... */
      errorWindowMinutes: seconds.default(5),
      /** ... and /health turns 503 at this many */
      maxErrors: positiveInt.default(5),
    })
    .default({ checkSeconds: 2, disconnectedAfterSeconds: 10, errorWindowMinutes: 5, maxErrors: 5 }),
});

export const pipelineSchema = z.strictObject({
  temporal: z.strictObject({
    address: z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233'),
    namespace: z.string().min(1),
    tls: tlsSchema.default({ enabled: false, clientCertPath: null, clientKeyPath: null, serverCaPath: null, serverName: null }),
    apiKey: z.string().min(1).nullable().default(null),
    /** the Web UI's base URL for links; null: the dev server's UI when `address` is the dev server's */
    webUi: z.string().url().nullable().default(null),
  }),
  dev: z
    .strictObject({
      stateDir: z.string().min(1),
      ip: z.string().min(1),
      port,
      uiPort: port,
      workers: z.array(queueName).min(1),
      startTimeoutSeconds: seconds,
    })
    .refine((d) => d.port !== d.uiPort, { path: ['uiPort'], message: 'must differ from dev.port' }),
  searchAttributes: z.record(
    z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'search attribute names are identifiers'),
    z.enum(SEARCH_ATTRIBUTE_TYPES),
  ),
  workers: z.strictObject({
    shutdownGraceSeconds: seconds,
    queues: z.record(queueName, queueSettings),
  }),
  registry: z.strictObject({
    /** the model registry folder (store/registry.ts); relative paths are under the repository root */
    dir: z.string().min(1),
  }),
  metrics: metricsSchema.default(() => metricsSchema.parse({})),
  health: z.strictObject({
    queues: z.array(queueName).min(1),
    scheduleToStartSeconds: seconds,
  }),
  phases: z.strictObject({
    canonical_selfplay: z.strictObject({
      ...phaseBase,
      /** null: adaptive (workflows/shardSize.ts, README "Shard sizing") */
      shardSize: positiveInt.nullable(),
      maxMoves: positiveInt,
      playerMix: z.array(z.string().min(1)).min(1),
      heartbeatTimeoutSeconds: seconds,
    }),
    parity_validation: z.strictObject({
      ...phaseBase,
      shardSize: positiveInt,
      fail_threshold: z.number().min(0).max(1),
    }),
    npz_export: z.strictObject({
      ...phaseBase,
      split_ratio: z.number().gt(0).lt(1),
    }),
    train: z.strictObject({
      ...phaseBase,
      /** where the activity runs when no worker polls `queue` */
      fallbackQueue: queueName,
      steps: positiveInt,
      batchSize: positiveInt,
      learningRate: z.number().positive(),
      weightDecay: z.number().min(0),
      /** null: the trainer's default (a tenth of the steps, at most 200) */
      warmupSteps: z.number().int().min(0).nullable().default(null),
      /** cpu (small, the default) or gpu (larger); blocks/channels override it */
      preset: z.enum(['cpu', 'gpu']),
      blocks: positiveInt.nullable().default(null),
      channels: positiveInt.nullable().default(null),
      /** sample from the newest NPZ files up to this many positions */
      windowPositions: positiveInt,
      checkpointEvery: positiveInt,
      /** torch threads on a CPU host; null lets torch choose */
      threads: positiveInt.nullable().default(null),
      heartbeatTimeoutSeconds: seconds,
    }),
    gauntlet: z.strictObject({
      ...phaseBase,
      /** games against each baseline and earlier best (whole rounds: pairs for 2 players) */
      gamesPerBaseline: positiveInt,
      baselines: z.array(z.string().min(1)).min(1),
      /** the player spec a candidate model id plays as; `{model}` is replaced by the id */
      candidatePlayer: z.string().includes('{model}').default('mcts:{model}'),
      includeBest: z.boolean().default(true),
      earlierBests: z.number().int().min(0).default(0),
      roundsPerShard: positiveInt.default(5),
      parallelShards: positiveInt.default(2),
      maxMoves: positiveInt.default(3000),
      /** evaluation games (never training data): <evalDir>/<configKey>/<workflowId>.db */
      evalDir: z.string().min(1).default('data/eval'),
      heartbeatTimeoutSeconds: seconds.default(30),
      /** minimum win rate per baseline, judged on the 95% Wilson lower bound */
      floors: z.record(z.string(), z.number().min(0).max(1)).default({ random: 0.9, heuristic: 0.85 }),
      sprt: z
        .strictObject({
          elo0: z.number(),
          elo1: z.number(),
          alpha: z.number().gt(0).lt(0.5),
          beta: z.number().gt(0).lt(0.5),
          maxGames: positiveInt,
        })
        .refine((s) => s.elo1 > s.elo0, { path: ['elo1'], message: 'must be above elo0' })
        .default({ elo0: 0, elo1: 10, alpha: 0.05, beta: 0.05, maxGames: 2000 }),
    }),
    promote: z.strictObject({
      minEloGain: z.number(),
      /** post-promotion check: games of the new best against the previous one, on fresh seeds */
      regressionGames: positiveInt.default(100),
      /** roll back when the new best is worse than the previous by more than this (upper end of its 95% CI) */
      regressionMarginElo: z.number().min(0).default(20),
      /** Slack-compatible webhook; RINGRIFT_ALERT_WEBHOOK_URL and RINGRIFT_ALERT_SECRET override */
      alerts: z
        .strictObject({ webhookUrl: z.string().url().nullable().default(null), secret: z.string().min(1).nullable().default(null) })
        .default({ webhookUrl: null, secret: null }),
    }),
    /** one training iteration (`pipeline run iteration`, the improvement loop): the defaults of each phase it runs */
    iteration: z
      .strictObject({
        /** self-play games per iteration */
        games: positiveInt,
        /** the self-play player while the config key has no best model */
        firstPlayer: z.string().min(1),
        /** the spec best plays self-play as; `{model}` is replaced by its id */
        bestPlayer: z.string().includes('{model}'),
        trainSteps: positiveInt,
        /** games under <dataDir>/games/<configKey>/, NPZ under <dataDir>/npz/<configKey>/ */
        dataDir: z.string().min(1),
        /** the promotion's gauntlet: these settings replace phases.gauntlet's */
        gauntlet: z.strictObject({
          gamesPerBaseline: positiveInt,
          candidatePlayer: z.string().includes('{model}'),
          floors: z.record(z.string(), z.number().min(0).max(1)),
          sprt: z
            .strictObject({
              elo0: z.number(),
              elo1: z.number(),
              alpha: z.number().gt(0).lt(0.5),
              beta: z.number().gt(0).lt(0.5),
              maxGames: positiveInt,
            })
            .refine((s) => s.elo1 > s.elo0, { path: ['elo1'], message: 'must be above elo0' }),
        }),
        /** games of a new best against the previous one after promoting (0: none) */
        regressionGames: z.number().int().min(0),
        /** every phase's heartbeat timeout (a silent worker's work is retried elsewhere after it); null: each phase's own */
        heartbeatTimeoutSeconds: seconds.nullable(),
        /** the iteration's network and batch (replacing phases.train's); a warm start needs the same network every time */
        train: z
          .strictObject({
            batchSize: positiveInt.optional(),
            learningRate: z.number().positive().optional(),
            blocks: positiveInt.nullable().optional(),
            channels: positiveInt.nullable().optional(),
          })
          .default({}),
      })
      .default(ITERATION_DEFAULTS),
  }),
  /** the improvement loop (workflows/improvementLoop.ts, README "The improvement loop") */
  loop: z
    .strictObject({
      curriculum: z
        .strictObject({
          /** base weight per config key (keys not listed: 1) */
          weights: z.record(z.string(), z.number().min(0)).default({}),
          /** 0: fixed weights; above 0: keys whose Elo rose least get up to (1 + adapt) × their weight */
          adapt: z.number().min(0).default(1),
        })
        .default({ weights: {}, adapt: 1 }),
      /** self-play games per step */
      gamesPerBatch: positiveInt.default(200),
      /** a key trains once this many positions arrived since its last training */
      minNewPositions: z.number().int().min(0).default(20000),
      /** the loop pauses itself (the error in `loop status`) after this many failed steps in a row */
      maxConsecutiveFailures: positiveInt.default(3),
    })
    .default({ curriculum: { weights: {}, adapt: 1 }, gamesPerBatch: 200, minNewPositions: 20000, maxConsecutiveFailures: 3 }),
  /** the nightly promotion Schedule (`ringrift schedule nightly`) */
  nightly: z
    .strictObject({
      /** candidates judged per night at most (the newest) */
      maxCandidates: positiveInt.default(3),
      /** a run missed while the server was down still starts if it is at most this late */
      catchupWindowMinutes: positiveInt.default(120),
    })
    .default({ maxCandidates: 3, catchupWindowMinutes: 120 }),
});

/** Refuses a password (or key passphrase) written into hosts.yaml; keys or an agent only. */
const noPassword = z
  .undefined({ error: 'passwords are not accepted in hosts.yaml: use ssh.identityFile (a key file) or an SSH agent (SSH_AUTH_SOCK)' })
  .optional();
/** A path on a remote host: absolute, or under its home as "~/..." */
const remotePath = z.string().regex(/^(\/|~\/)/, 'must be absolute on that host ("/..." or "~/...")');

export const hostSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'host names use letters, digits, "_", "." and "-"'),
    address: z.string().min(1),
    queues: z.array(queueName).min(1),
    /** worker processes per queue that `cluster up` starts there */
    workers: positiveInt.default(1),
    /** the checkout of this repository on that host (`cluster up` runs its bin/ringrift, `cluster update` moves it) */
    repoPath: remotePath.optional(),
    /** that host's data folder (artifacts, pid files and logs of `cluster up`); default <repoPath>/data */
    dataDir: remotePath.optional(),
    /** the data folder is shared storage (the same files as on other hosts marked shared) */
    shared: z.boolean().default(false),
    /** extra environment for the workers there (e.g. CUDA_VISIBLE_DEVICES, RINGRIFT_METRICS_PORT) */
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are identifiers'), z.string()).default({}),
    /** where workers there reach Temporal (host:port); default temporal.address of pipeline.yaml */
    temporalAddress: z
      .string()
      .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port, e.g. 10.0.0.1:7233')
      .optional(),
    /** how `ringrift cluster` reaches it; a host without `ssh` is this machine (`ringrift dev up`) */
    ssh: z
      .strictObject({
        user: z.string().min(1),
        port: port.default(22),
        /** private key file (unencrypted, or loaded in the agent instead); without it the agent is used */
        identityFile: z.string().min(1).optional(),
        password: noPassword,
        passphrase: noPassword,
      })
      .optional(),
    gpus: z.number().int().min(0).optional(),
    password: noPassword,
  })
  .superRefine((h, ctx) => {
    if (h.ssh && !h.repoPath) {
      ctx.addIssue({
        code: 'custom',
        path: ['repoPath'],
        message: 'required for a host reached over SSH: the checkout there, e.g. ~/ringrift-pipeline',
      });
    }
  });

export const hostsSchema = z.strictObject({
  /** pinned SSH host keys (OpenSSH known_hosts format); relative to the config folder; "~/" is the home folder */
  knownHostsFile: z.string().min(1).default('~/.ringrift/known_hosts'),
  hosts: z
    .array(hostSchema)
    .min(1)
    .superRefine((hosts, ctx) => {
      const seen = new Set<string>();
      hosts.forEach((h, i) => {
        if (seen.has(h.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate host name "${h.name}"` });
        seen.add(h.name);
      });
    }),
});

export type PipelineConfig = z.infer<typeof pipelineSchema>;
export type HostsConfig = z.infer<typeof hostsSchema>;
export type HostEntry = z.infer<typeof hostSchema>;
export type TemporalSettings = PipelineConfig['temporal'];
export type QueueSettings = z.infer<typeof queueSettings>;
export type MetricsSettings = PipelineConfig['metrics'];
