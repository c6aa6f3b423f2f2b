// gauntlet: the candidate against pinned opponents. Plan (resolve candidate and opponents), play
// rounds in shards (2 players: seat-swapped pairs on one seed; 3-4: the candidate in every seat),
// the current best under an SPRT that stops as soon as it decides, merge into the run's own
// evaluation DB, judge the gates.
import { condition, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { GauntletActivities, GauntletOpponent, GauntletPlan, GauntletShardResult, MergeGauntletResult } from '../activities/gauntlet';
import type { ShardInput } from '../activities/selfplay';
import type { BoardType } from '../engine';
import { wilson } from '../store/ratings';
import { sprtStatus, type SprtConfig, type SprtStatus } from '../store/sprt';
import { clearly } from './failures';
import { progressQuery, type PhaseProgress } from './progress';
import type { z } from 'zod';
import type { gauntletInputSchema } from './inputSchemas';
import { phaseInput, tagRun } from './phaseInput';

export interface GauntletInput {
  configKey: string;
  boardType: BoardType;
  numPlayers: number;
  registryDir: string;
  /** a registry model id (played as candidateTemplate) or a plain player spec */
  candidate: string;
  candidateTemplate: string;
  baselines: string[];
  includeBest: boolean;
  earlierBests: number;
  /** games against each baseline and earlier best (whole rounds), and against best without an SPRT */
  gamesPerOpponent: number;
  seed: number;
  roundsPerShard: number;
  maxMoves: number;
  /** the games go to <evalDir>/<configKey>/<workflowId>.db */
  evalDir: string;
  /** the test against `best`; null: a fixed gamesPerOpponent */
  sprt: SprtConfig | null;
  /** minimum win rate (Wilson lower bound) per baseline name */
  floors: Record<string, number>;
  /** SPRT shards in flight between two looks at the LLR */
  parallelShards: number;
  /** skip planning: play exactly these (the promotion's regression check) */
  plan?: GauntletPlan;
  activityQueue?: string;
  heartbeatTimeoutSeconds?: number;
}

export interface OpponentResult {
  name: string;
  spec: string;
  modelId: string | null;
  role: GauntletOpponent['role'];
  games: number;
  wins: number;
  draws: number;
  losses: number;
  /** candidate's points per game, with its Wilson interval */
  rate: number;
  lo: number;
  hi: number;
  penta: number[];
  floor: number | null;
}

export interface GauntletResult {
  candidate: GauntletPlan['candidate'];
  evalDb: MergeGauntletResult;
  opponents: OpponentResult[];
  sprt: SprtStatus | null;
  passed: boolean;
  /** why a gate failed (empty when passed) */
  reasons: string[];
  games: number;
}

/** The gates: floors on the Wilson lower bound; vs best the SPRT must accept H1 (3-4 players: lower bound above 1/n). */
export function judge(opps: OpponentResult[], sprt: SprtStatus | null, numPlayers: number): string[] {
  const reasons: string[] = [];
  for (const o of opps) {
    if (o.floor !== null && o.lo < o.floor) {
      reasons.push(`vs ${o.name}: win rate ${o.rate.toFixed(3)} (95% lower bound ${o.lo.toFixed(3)}) is below the floor ${o.floor}`);
    }
    if (o.role !== 'best') continue;
    if (sprt && sprt.state !== 'H1') {
      reasons.push(
        `vs best: SPRT ${sprt.state === 'H0' ? 'accepted H0' : 'did not decide'} (LLR ${sprt.llr.toFixed(2)} in [${sprt.lower.toFixed(2)}, ${sprt.upper.toFixed(2)}] after ${sprt.games} games)`,
      );
    }
    if (!sprt && numPlayers > 2 && o.lo <= 1 / numPlayers) {
      reasons.push(`vs best: score ${o.rate.toFixed(3)} (lower bound ${o.lo.toFixed(3)}) is not above 1/${numPlayers}`);
    }
  }
  return reasons;
}

/** What a run may be started with (Web UI, `temporal` CLI): optional fields come from config. */
export type GauntletStartInput = z.input<typeof gauntletInputSchema>;

export async function gauntlet(raw: GauntletStartInput): Promise<GauntletResult> {
  const { workflowId } = workflowInfo();
  const progress: PhaseProgress = { phase: 'plan', unit: 'games', target: 0, done: 0, shards: [] };
  setHandler(progressQuery, () => progress);
  const input = await phaseInput<GauntletInput>('gauntlet', raw);
  tagRun('gauntlet', input.boardType, input.numPlayers);
  const n = input.numPlayers;
  const acts = proxyActivities<GauntletActivities>({
    taskQueue: input.activityQueue ?? 'cpu',
    startToCloseTimeout: '4h',
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds ?? 30}s`,
    retry: {
      maximumAttempts: 5,
      initialInterval: '1s',
      nonRetryableErrorTypes: ['BadGauntletInput', 'EvalDbMismatch', 'GameConfigMismatchError'],
    },
  });
  const plan = input.plan ?? (await clearly(acts.planGauntlet(input)));
  const cand = plan.candidate;
  const dir = `${input.evalDir}/${input.configKey}`;
  const stats = new Map(
    plan.opponents.map((o) => [o.name, { ...o, games: 0, wins: 0, draws: 0, losses: 0, score: 0, penta: [0, 0, 0, 0, 0], rounds: 0 }]),
  );
  const best = plan.opponents.find((o) => o.role === 'best');
  const sprtCfg = best && input.sprt && n === 2 ? input.sprt : null;
  let sprt: SprtStatus | null = sprtCfg ? sprtStatus([0, 0, 0, 0, 0], sprtCfg) : null;
  const fixedRounds = Math.ceil(input.gamesPerOpponent / n);
  const sprtRounds = sprtCfg ? Math.floor(sprtCfg.maxGames / 2) : 0;
  progress.target = plan.opponents.reduce((t, o) => t + (sprtCfg && o === best ? sprtRounds : fixedRounds) * n, 0);
  progress.phase = 'gauntlet';

  const describe = () =>
    [...stats.values()]
      .map((s) =>
        s.role === 'best' && sprt
          ? `best ${sprt.score.toFixed(3)} LLR ${sprt.llr.toFixed(2)} [${sprt.lower.toFixed(2)}, ${sprt.upper.toFixed(2)}]`
          : `${s.name} ${(s.games ? s.score / s.games : 0).toFixed(3)}`,
      )
      .join(' | ');

  const shardDbs: string[] = [];
  const playRounds = async (opp: GauntletOpponent, firstRound: number, rounds: number): Promise<GauntletShardResult> => {
    const index = progress.shards.length;
    progress.shards.push({ index, target: rounds * n, done: 0, status: 'running' });
    const shardDb = `${dir}/.shards-${workflowId}/shard-${String(index).padStart(4, '0')}.db`;
    shardDbs.push(shardDb);
    const shard: ShardInput = {
      workflowId,
      shardIndex: index,
      firstGame: firstRound * n,
      numGames: rounds * n,
      boardType: input.boardType,
      numPlayers: n,
      seed: input.seed,
      playerMix: [cand.spec, ...Array.from({ length: n - 1 }, () => opp.spec)],
      maxMoves: input.maxMoves,
      shardDb,
      gamesPerSeed: n,
      gameIdPrefix: `${workflowId}-${opp.name}`,
      source: 'gauntlet',
      // Neural players keep their seeded opening sampling: it is the gauntlet's opening book (a
      // deterministic player would otherwise repeat one game per pair forever).
      evaluation: false,
      metadata: {
        gauntlet: workflowId,
        candidate: cand.name,
        opponent: opp.name,
        models: { [cand.spec]: cand.modelId, [opp.spec]: opp.modelId },
      },
    };
    const r = await clearly(acts.playGauntletShard({ shard, opponent: opp.name }));
    const s = stats.get(opp.name)!;
    s.rounds = Math.max(s.rounds, firstRound + rounds);
    for (const k of ['games', 'wins', 'draws', 'losses', 'score'] as const) s[k] += r[k];
    r.penta.forEach((c, i) => (s.penta[i]! += c));
    Object.assign(progress.shards[index]!, { done: r.games, status: 'done' });
    progress.done += r.games;
    progress.detail = describe();
    return r;
  };
  const fixed = async (opp: GauntletOpponent) => {
    const shards = [];
    for (let first = 0; first < fixedRounds; first += input.roundsPerShard) {
      shards.push(playRounds(opp, first, Math.min(input.roundsPerShard, fixedRounds - first)));
    }
    await Promise.all(shards);
  };
  const sequential = async (opp: GauntletOpponent, cfg: SprtConfig) => {
    let next = 0;
    while (sprt!.state === 'continue' && next < sprtRounds) {
      const wave = [];
      for (let k = 0; k < input.parallelShards && next < sprtRounds; k++) {
        const rounds = Math.min(input.roundsPerShard, sprtRounds - next);
        wave.push(playRounds(opp, next, rounds));
        next += rounds;
      }
      await Promise.all(wave);
      sprt = sprtStatus(stats.get(opp.name)!.penta, cfg);
      progress.detail = describe();
    }
    progress.target -= (sprtRounds - next) * n; // stopped early: the games not played are not planned
  };
  await Promise.all(plan.opponents.map((o) => (sprtCfg && o === best ? sequential(o, sprtCfg) : fixed(o))));

  progress.phase = 'merge';
  const evalDb = await clearly(
    acts.mergeGauntletShards({
      boardType: input.boardType,
      numPlayers: n,
      shardDbs,
      evalDb: `${dir}/${workflowId}.db`,
      expected: [...stats.values()].map((s) => ({ prefix: `${workflowId}-${s.name}`, count: s.rounds * n })),
    }),
  );
  const opponents: OpponentResult[] = [...stats.values()].map((s) => {
    const w = wilson(s.score, s.games);
    return {
      name: s.name,
      spec: s.spec,
      modelId: s.modelId,
      role: s.role,
      games: s.games,
      wins: s.wins,
      draws: s.draws,
      losses: s.losses,
      rate: w.rate,
      lo: w.lo,
      hi: w.hi,
      penta: s.penta,
      floor: s.role === 'baseline' ? (input.floors[s.name] ?? null) : null,
    };
  });
  const reasons = judge(opponents, sprt, n);
  progress.phase = 'done';
  await condition(() => true);
  return { candidate: cand, evalDb, opponents, sprt, passed: reasons.length === 0, reasons, games: evalDb.games };
}
