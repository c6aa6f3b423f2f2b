// Neural players (`policy:`, `mcts:`, `gumbel:`) and the asynchronous game loop that plays several
// games in lockstep on one thread, so that their network requests share batches.
import { createInitialState, legalMoves, moveKey, mulberry32, type BoardType, type GameState, type Move } from '../engine';
import { BatchEvaluator, loadModel, type Evaluation, type ModelRef } from './evaluator';
import { DEFAULT_GUMBEL, gumbelSearch } from './gumbel';
import { DEFAULT_MCTS, mctsSearch, pickByVisits, type SearchResult } from './mcts';
import { createPlayer, formatPlayerSpec, isNeuralSpec, parsePlayerSpec, type NeuralKind } from './players';
import { gameRecorder, type PlayOptions, type PlayedGame } from './selfplay';

export interface NeuralSettings {
  /** positions per onnxruntime run (default 32) */
  batchSize: number;
  /** games played in lockstep per shard thread (default 16) */
  concurrentGames: number;
  /** onnxruntime intra-op threads per session (default 1) */
  threads: number;
  /** leaves per tree per round, with virtual loss (default 8) */
  leafBatch: number;
  cPuct: number;
  dirichletAlpha: number;
  dirichletEps: number;
  /** moves (0-based game move number) chosen by sampling (visits, or the policy for policy:) */
  temperatureMoves: number;
  /** simulations when a spec gives none */
  mctsSims: number;
  gumbelSims: number;
}

export const DEFAULT_NEURAL: NeuralSettings = {
  batchSize: 32,
  concurrentGames: 16,
  threads: 1,
  leafBatch: DEFAULT_MCTS.leafBatch,
  cPuct: DEFAULT_MCTS.cPuct,
  dirichletAlpha: DEFAULT_MCTS.dirichletAlpha,
  dirichletEps: DEFAULT_MCTS.dirichletEps,
  temperatureMoves: DEFAULT_MCTS.temperatureMoves,
  mctsSims: DEFAULT_MCTS.sims,
  gumbelSims: DEFAULT_GUMBEL.sims,
};

/** Environment overrides of the worker (RINGRIFT_NN_BATCH, RINGRIFT_NN_GAMES, RINGRIFT_NN_THREADS, RINGRIFT_NN_LEAF_BATCH). */
export function neuralSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<NeuralSettings> {
  const out: Partial<NeuralSettings> = {};
  const num = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name}=${v}: give a positive integer`);
    return n;
  };
  const b = num('RINGRIFT_NN_BATCH');
  if (b !== undefined) out.batchSize = b;
  const g = num('RINGRIFT_NN_GAMES');
  if (g !== undefined) out.concurrentGames = g;
  const t = num('RINGRIFT_NN_THREADS');
  if (t !== undefined) out.threads = t;
  const l = num('RINGRIFT_NN_LEAF_BATCH');
  if (l !== undefined) out.leafBatch = l;
  return out;
}

/** A soft policy target as stored in game_moves.move_probs: canonical move key → probability. */
export type MoveProbs = Record<string, number>;

export interface Choice {
  move: Move;
  /** the search's policy target over the legal moves (searched moves only) */
  probs?: MoveProbs;
}

export interface GamePlayer {
  readonly spec: string;
  /** registry id of the model (neural players) */
  readonly modelId: string | null;
  choose(state: GameState, legal: Move[], rng: () => number, moveNumber: number): Promise<Choice>;
}

/** Model references a player mix needs: the `<model>` of every neural spec. */
export function modelRefsOf(specs: string[]): string[] {
  const refs = new Set<string>();
  for (const s of specs) {
    const p = parsePlayerSpec(s);
    if (isNeuralSpec(p)) refs.add(p.model);
  }
  return [...refs];
}

function probsOf(moves: Move[], p: ArrayLike<number>): MoveProbs {
  const out: MoveProbs = {};
  for (let i = 0; i < moves.length; i++) if (p[i]! > 0) out[moveKey(moves[i]!)] = p[i]!;
  return out;
}

/** Neural players of one game configuration; one batching evaluator per model, shared by every game. */
export class NeuralPlayers {
  readonly evaluators = new Map<string, BatchEvaluator>();
  readonly settings: NeuralSettings;
  /** self-play: Dirichlet / Gumbel noise at the root and the temperature schedule */
  readonly selfplay: boolean;
  private readonly models: Record<string, ModelRef>;

  private constructor(models: Record<string, ModelRef>, settings: NeuralSettings, selfplay: boolean) {
    this.models = models;
    this.settings = settings;
    this.selfplay = selfplay;
  }

  /** Loads every model of `models` (ref → resolved file), checking sha256 and metadata against the game. */
  static async create(
    models: Record<string, ModelRef>,
    game: { boardType: BoardType; numPlayers: number },
    settings: Partial<NeuralSettings> = {},
    opts: { selfplay?: boolean } = {},
  ): Promise<NeuralPlayers> {
    const s = { ...DEFAULT_NEURAL, ...settings };
    const np = new NeuralPlayers(models, s, opts.selfplay ?? true);
    for (const ref of Object.values(models)) {
      if (np.evaluators.has(ref.id)) continue;
      const model = await loadModel(ref, game, { threads: s.threads });
      np.evaluators.set(ref.id, new BatchEvaluator(model, { batchSize: s.batchSize }));
    }
    return np;
  }

  /** Positions evaluated by all evaluators. */
  get positions(): number {
    let n = 0;
    for (const e of this.evaluators.values()) n += e.stats.positions;
    return n;
  }

  player(spec: string): GamePlayer {
    const p = parsePlayerSpec(spec);
    if (!isNeuralSpec(p)) {
      const sync = createPlayer(p);
      return { spec, modelId: null, choose: async (state, legal, rng) => ({ move: sync.chooseMove(state, legal, rng) }) };
    }
    const ref = this.models[p.model];
    if (!ref) throw new Error(`player "${spec}": model ${p.model} was not resolved`);
    const ev = this.evaluators.get(ref.id)!;
    const evaluate = (st: GameState): Promise<Evaluation> => ev.evaluate(st);
    const s = this.settings;
    const kind: NeuralKind = p.kind;
    const sims = p.sims ?? (kind === 'gumbel' ? s.gumbelSims : s.mctsSims);
    const selfplay = this.selfplay;
    return {
      spec: formatPlayerSpec(p),
      modelId: ref.id,
      async choose(state, legal, rng, moveNumber) {
        if (legal.length === 1) return { move: legal[0]! };
        const sample = selfplay && moveNumber < s.temperatureMoves;
        let r: SearchResult;
        if (kind === 'policy') {
          const e = await evaluate(state);
          const chosen = pickByVisits(e.priors, e.priors, sample, rng);
          return { move: e.moves[chosen]! };
        }
        if (kind === 'mcts') {
          r = await mctsSearch(
            state,
            evaluate,
            {
              sims,
              cPuct: s.cPuct,
              leafBatch: s.leafBatch,
              dirichletAlpha: s.dirichletAlpha,
              dirichletEps: s.dirichletEps,
              temperatureMoves: s.temperatureMoves,
            },
            rng,
            { noise: selfplay, sample },
          );
        } else {
          r = await gumbelSearch(state, evaluate, { ...DEFAULT_GUMBEL, sims, cPuct: s.cPuct, leafBatch: s.leafBatch }, rng, {
            noise: selfplay,
          });
        }
        return { move: r.moves[r.chosen]!, probs: probsOf(r.moves, r.policy) };
      },
    };
  }

  async release(): Promise<void> {
    // sessions stay cached for the thread (see loadModel); nothing per game to free
    this.evaluators.clear();
  }
}

export interface AsyncPlayedGame extends PlayedGame {
  /** per move: the search's policy target, when the move was searched */
  probs: (MoveProbs | undefined)[];
  /** per seat: the model's registry id (null for random/heuristic) */
  seatModels: (string | null)[];
}

/** Plays one game with (possibly) asynchronous players; same record and rng use as ai/selfplay playGame. */
export async function playGameAsync(opts: Omit<PlayOptions, 'seats'> & { players: GamePlayer[] }): Promise<AsyncPlayedGame> {
  const state = createInitialState({ boardType: opts.boardType, numPlayers: opts.numPlayers, seed: opts.seed });
  const rng = mulberry32(opts.seed);
  const game = gameRecorder(state, opts);
  const probs: (MoveProbs | undefined)[] = [];
  while (state.status === 'active' && game.moves.length < opts.maxMoves) {
    const choice = await opts.players[state.currentPlayer - 1]!.choose(state, legalMoves(state), rng, game.moves.length);
    probs.push(choice.probs);
    game.play(choice.move);
  }
  return { ...game.result(opts.players.map((p) => p.spec)), probs, seatModels: opts.players.map((p) => p.modelId) };
}

/**
 * Runs `count` jobs with at most `concurrency` in flight (games in lockstep: while one game waits
 * for its batch, the others queue their leaves into the same batch).
 */
export async function runLockstep<T>(
  count: number,
  concurrency: number,
  job: (k: number) => Promise<T>,
  onDone?: (k: number, r: T) => void,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, async () => {
    while (next < count) {
      const k = next++;
      const r = await job(k);
      onDone?.(k, r);
    }
  });
  await Promise.all(lanes);
}
