// The Elo ladder of one config key, from its evaluation games only: every gauntlet run's DB under
// <evalDir>/<configKey>/*.db (never training data). Participants are player specs; a neural spec
// names its model (`mcts:<id>…`), whose registry row gives its generation (creation order).
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { fitBradleyTerry, pairwiseResults, wilson, type EvalGame, type Interval, type Rating } from './ratings';
import { listModels, openRegistry, closeRegistry, parseConfigKey, type ModelStatus } from './registry';

export const BASELINES = ['random', 'heuristic'] as const;

export function evalDbs(evalDir: string, configKey: string): string[] {
  const dir = path.join(evalDir, configKey);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.db') && !f.startsWith('.'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Every evaluation game of the config key: the spec per seat and the winner. */
export function readEvalGames(evalDir: string, configKey: string): EvalGame[] {
  const { boardType, numPlayers } = parseConfigKey(configKey);
  const games: EvalGame[] = [];
  for (const file of evalDbs(evalDir, configKey)) {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const rows = db
        .prepare(
          `SELECT g.game_id AS id, g.winner AS winner, p.player_number AS seat, p.ai_profile_id AS spec
             FROM games g JOIN game_players p ON p.game_id = g.game_id
            WHERE g.board_type = ? AND g.num_players = ? ORDER BY g.game_id, p.player_number`,
        )
        .all(boardType, numPlayers) as { id: string; winner: number | null; seat: number; spec: string | null }[];
      let cur = null as { id: string; game: EvalGame } | null;
      for (const r of rows) {
        if (cur?.id !== r.id) {
          cur = { id: r.id, game: { seats: [], winner: r.winner === null ? null : Number(r.winner) } };
          games.push(cur.game);
        }
        cur.game.seats[r.seat - 1] = r.spec ?? '?';
      }
    } finally {
      db.close();
    }
  }
  return games;
}

/** The registry id inside a neural spec (`mcts:<id>:sims=8` → `<id>`), else null. */
export function specModelId(spec: string): string | null {
  const id = spec.split(':')[1];
  return id && /^[a-z0-9]+_[2-4]p-[0-9a-f]{12,64}$/.test(id) ? id : null;
}

export interface LadderRow extends Rating {
  modelId: string | null;
  status: ModelStatus | null;
  /** 1-based creation order among this config key's models (null for random/heuristic) */
  generation: number | null;
  /** points per game against each baseline it met, with the Wilson interval */
  vs: Record<string, Interval & { games: number }>;
}

export function ladder(opts: { evalDir: string; configKey: string; registryDir?: string }): {
  rows: LadderRow[];
  games: number;
  dbs: number;
} {
  const games = readEvalGames(opts.evalDir, opts.configKey);
  const pairs = pairwiseResults(games);
  const ratings = fitBradleyTerry(pairs);
  const models = new Map<string, { status: ModelStatus; generation: number }>();
  if (opts.registryDir && fs.existsSync(path.join(opts.registryDir, 'registry.db'))) {
    const reg = openRegistry(opts.registryDir);
    try {
      listModels(reg, { configKey: opts.configKey }).forEach((m, i) => models.set(m.id, { status: m.status, generation: i + 1 }));
    } finally {
      closeRegistry(reg);
    }
  }
  const rows = ratings.map((r): LadderRow => {
    const modelId = specModelId(r.participant);
    const vs: LadderRow['vs'] = {};
    for (const b of BASELINES) {
      if (b === r.participant) continue;
      const p = pairs.find((x) => (x.a === r.participant && x.b === b) || (x.b === r.participant && x.a === b));
      if (!p) continue;
      const score = p.a === r.participant ? p.scoreA : p.games - p.scoreA;
      vs[b] = { ...wilson(score, p.games), games: p.games };
    }
    const m = modelId ? models.get(modelId) : undefined;
    return { ...r, modelId, status: m?.status ?? null, generation: m?.generation ?? null, vs };
  });
  return { rows, games: games.length, dbs: evalDbs(opts.evalDir, opts.configKey).length };
}
