// Gauntlet activities: plan (resolve the candidate and the pinned opponents in the registry), play
// one shard of evaluation rounds through the self-play shard loop (resumable, heartbeating), and
// merge the shards into the run's own evaluation DB (never training data), checking the game ids.
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { runShardThread, selfplayGameId, type ArtifactRef, type ShardInput } from './selfplay';
import { closeGameDb, fileSha256, listGameIds, mergeShardDbs, openGameDb, type BoardType } from '../store/gameDb';
import { PlayerSpecError, parsePlayerSpec } from '../ai/players';
import { RegistryError, bestModel, closeRegistry, openRegistry, parseConfigKey, requireModel } from '../store/registry';
import { listEvents } from '../store/registryBest';

/** The player spec a candidate model plays as: `template` with `{model}` replaced (default `mcts:{model}`). */
export function modelPlayerSpec(modelId: string, template = 'mcts:{model}'): string {
  return template.replaceAll('{model}', modelId);
}

export interface Participant {
  /** the name on the ladder and in the report: `random`, `heuristic`, `best`, `previous-1`, or the candidate */
  name: string;
  spec: string;
  /** registry id of the model behind the spec, null for random/heuristic */
  modelId: string | null;
}

export interface GauntletOpponent extends Participant {
  /** baselines are judged by floors, `best` by the SPRT, earlier bests only rated */
  role: 'baseline' | 'best' | 'earlier';
}

export interface PlanGauntletInput {
  registryDir: string;
  configKey: string;
  /** a registry model id (played as `candidateTemplate`) or a plain player spec */
  candidate: string;
  candidateTemplate: string;
  baselines: string[];
  /** play the current best (when there is one) under the SPRT */
  includeBest: boolean;
  /** how many earlier bests to add (most recent first) */
  earlierBests: number;
}

export interface GauntletPlan {
  candidate: Participant;
  opponents: GauntletOpponent[];
}

const MODEL_ID = /^[a-z0-9]+_[2-4]p-[0-9a-f]{12,64}$/;

function checkSpec(spec: string, what: string): void {
  try {
    parsePlayerSpec(spec);
  } catch (err) {
    if (err instanceof PlayerSpecError) throw new RegistryError(`${what}: ${err.message}`, 'bad_input');
    throw err;
  }
}

/** Resolves the candidate and the opponents. Throws RegistryError (bad input) with one line. Used by the CLI too. */
export function planGauntlet(input: PlanGauntletInput): GauntletPlan {
  parseConfigKey(input.configKey);
  const asModel = (id: string, name: string): Participant => ({ name, spec: modelPlayerSpec(id, input.candidateTemplate), modelId: id });
  const opponents: GauntletOpponent[] = [];
  for (const b of input.baselines) {
    checkSpec(b, `baseline "${b}"`);
    opponents.push({ name: b, spec: b, modelId: null, role: 'baseline' });
  }
  const needsRegistry = MODEL_ID.test(input.candidate) || input.includeBest || input.earlierBests > 0;
  let candidate: Participant = { name: input.candidate, spec: input.candidate, modelId: null };
  if (needsRegistry && fs.existsSync(path.join(input.registryDir, 'registry.db'))) {
    const reg = openRegistry(input.registryDir);
    try {
      if (MODEL_ID.test(input.candidate)) {
        const m = requireModel(reg, input.candidate);
        if (m.configKey !== input.configKey)
          throw new RegistryError(`model ${m.id} is a ${m.configKey} model, not ${input.configKey}`, 'wrong_config');
        candidate = asModel(m.id, m.id);
      }
      const best = bestModel(reg, input.configKey);
      if (input.includeBest && best && best.id !== candidate.modelId) opponents.push({ ...asModel(best.id, 'best'), role: 'best' });
      const earlier = [
        ...new Set(
          listEvents(reg, { configKey: input.configKey })
            .filter((e) => e.kind === 'promoted' && e.previousBestId)
            .reverse()
            .map((e) => e.previousBestId!),
        ),
      ].filter((id) => id !== best?.id && id !== candidate.modelId);
      earlier.slice(0, input.earlierBests).forEach((id, i) => opponents.push({ ...asModel(id, `previous-${i + 1}`), role: 'earlier' }));
    } finally {
      closeRegistry(reg);
    }
  } else if (MODEL_ID.test(input.candidate)) {
    throw new RegistryError(`no model registry at ${input.registryDir}: model ${input.candidate} cannot be found`, 'no_registry');
  }
  checkSpec(candidate.spec, `candidate "${input.candidate}"`);
  if (opponents.some((o) => o.spec === candidate.spec)) {
    throw new RegistryError(
      `candidate ${candidate.spec} is also one of its opponents: a player cannot be rated against itself`,
      'bad_input',
    );
  }
  return { candidate, opponents };
}

export interface GauntletShardInput {
  shard: ShardInput;
  /** the shard plays rounds [firstRound, firstRound + rounds) against this opponent */
  opponent: string;
}

export interface GauntletShardResult {
  shardIndex: number;
  opponent: string;
  games: number;
  resumedFrom: number;
  /** candidate points per game: wins, draws (no winner), losses, and the points (draw = 1/numPlayers) */
  wins: number;
  draws: number;
  losses: number;
  score: number;
  /** 2 players: candidate points per seat-swapped pair, counted 0, ½, 1, 1½, 2 */
  penta: number[];
}

/** The candidate (player mix entry 0) sits in seat (numPlayers - index mod numPlayers) mod numPlayers + 1 of game `index`. */
export function candidateSeat(index: number, numPlayers: number): number {
  return ((numPlayers - (index % numPlayers)) % numPlayers) + 1;
}

/** Outcomes of the shard's games from its DB (so games committed before a crash count exactly once). */
export function shardOutcomes(input: ShardInput): Omit<GauntletShardResult, 'shardIndex' | 'opponent' | 'resumedFrom'> {
  const db = openGameDb(input.shardDb, { boardType: input.boardType, numPlayers: input.numPlayers, readonly: true });
  try {
    const n = input.numPlayers;
    const winners = new Map(
      (db.sqlite.prepare('SELECT game_id, winner FROM games').all() as { game_id: string; winner: number | null }[]).map((r) => [
        r.game_id,
        r.winner === null ? null : Number(r.winner),
      ]),
    );
    const out = { games: 0, wins: 0, draws: 0, losses: 0, score: 0, penta: [0, 0, 0, 0, 0] };
    const perRound = new Map<number, { points: number; games: number }>();
    for (let k = 0; k < input.numGames; k++) {
      const index = input.firstGame + k;
      const id = selfplayGameId(input.gameIdPrefix ?? input.workflowId, index);
      if (!winners.has(id)) continue;
      const w = winners.get(id)!;
      const points = w === null ? 1 / n : w === candidateSeat(index, n) ? 1 : 0;
      out.games += 1;
      if (w === null) out.draws += 1;
      else if (points === 1) out.wins += 1;
      else out.losses += 1;
      out.score += points;
      const round = Math.floor(index / n);
      const r = perRound.get(round) ?? { points: 0, games: 0 };
      r.points += points;
      r.games += 1;
      perRound.set(round, r);
    }
    if (n === 2) for (const r of perRound.values()) if (r.games === 2) out.penta[Math.round(r.points * 2)]! += 1;
    return out;
  } finally {
    closeGameDb(db);
  }
}

export interface MergeGauntletInput {
  boardType: BoardType;
  numPlayers: number;
  shardDbs: string[];
  evalDb: string;
  /** the planned games: ids `<prefix>-g<index>` for index in [0, count) */
  expected: { prefix: string; count: number }[];
}

export interface MergeGauntletResult extends ArtifactRef {
  games: number;
}

export function createGauntletActivities() {
  return {
    async planGauntlet(input: PlanGauntletInput): Promise<GauntletPlan> {
      try {
        return planGauntlet(input);
      } catch (err) {
        if (err instanceof RegistryError) throw ApplicationFailure.nonRetryable(err.message, 'BadGauntletInput');
        throw err;
      }
    },

    /** Plays the shard's games on a worker thread, resuming from its DB; heartbeats carry games done. */
    async playGauntletShard(input: GauntletShardInput): Promise<GauntletShardResult> {
      const ctx = Context.current();
      let done = (ctx.info.heartbeatDetails as { gamesDone?: number } | undefined)?.gamesDone ?? 0;
      const result = await runShardThread(input.shard, ctx.cancellationSignal, (msg) => {
        if (msg.kind === 'game') done = msg.gamesDone;
        ctx.heartbeat({ gamesDone: done });
      });
      if (result.resumedFrom > 0) log.info('resumed gauntlet shard', { shard: input.shard.shardIndex, committed: result.resumedFrom });
      return {
        shardIndex: input.shard.shardIndex,
        opponent: input.opponent,
        resumedFrom: result.resumedFrom,
        ...shardOutcomes(input.shard),
      };
    },

    /** Merges the shards into the run's evaluation DB (atomic; a retry finds its games there) and checks it holds exactly the planned games. */
    async mergeGauntletShards(input: MergeGauntletInput): Promise<MergeGauntletResult> {
      const present = input.shardDbs.filter((p) => fs.existsSync(p));
      if (present.length > 0) {
        mergeShardDbs(present, input.evalDb, {
          boardType: input.boardType,
          numPlayers: input.numPlayers,
          append: fs.existsSync(input.evalDb),
          duplicates: 'keep-first',
        });
      }
      const expected = new Set(input.expected.flatMap((e) => Array.from({ length: e.count }, (_, i) => selfplayGameId(e.prefix, i))));
      const db = openGameDb(input.evalDb, { boardType: input.boardType, numPlayers: input.numPlayers, readonly: true });
      let stored: string[];
      try {
        stored = listGameIds(db);
      } finally {
        closeGameDb(db);
      }
      const have = new Set(stored);
      const missing = [...expected].filter((id) => !have.has(id));
      const extra = stored.filter((id) => !expected.has(id));
      if (missing.length || extra.length || stored.length !== expected.size) {
        throw ApplicationFailure.nonRetryable(
          `evaluation DB ${input.evalDb}: ${missing.length} planned games missing, ${extra.length} unplanned (${stored.length} stored, ${expected.size} planned)`,
          'EvalDbMismatch',
        );
      }
      for (const p of input.shardDbs) for (const s of ['', '-wal', '-shm']) fs.rmSync(p + s, { force: true });
      const dir = path.dirname(input.shardDbs[0] ?? input.evalDb);
      if (path.basename(dir).startsWith('.shards-') && fs.existsSync(dir) && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
      return { path: path.resolve(input.evalDb), sha256: await fileSha256(input.evalDb), games: stored.length };
    },
  };
}

export type GauntletActivities = ReturnType<typeof createGauntletActivities>;
