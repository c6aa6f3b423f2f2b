// The default self-play shard size: enough games that a shard plays for about SHARD_SECONDS (so the
// fixed costs of a shard, ~0.1 s of round trip, shard DB and merge, stay at a few per cent), but at
// least MIN_SHARDS shards when the run has the games for it (so a small run still spreads over the
// workers). Pure and deterministic: the CLI and the worker's input completion compute the same value.
// The rule and its table are documented in README.md ("Shard sizing").

export const SHARD_SECONDS = 30;
export const MIN_SHARDS = 8;
export const MAX_SHARD_SIZE = 2000;

/** Moves in a 2-player game (measured medians, rounded); 3-4 players play ~25% more per extra seat. */
const MOVES: Record<string, number> = { square8: 140, hex8: 170, square19: 650, hexagonal: 1000 };
const LARGE = new Set(['square19', 'hexagonal']);

/** Seconds per move of one player spec (measured on one core of the 2-core CI machine, rounded up). */
export function secondsPerMove(spec: string, boardType: string): number {
  const large = LARGE.has(boardType);
  const kind = spec.split(':')[0];
  const sims = Number(/:sims=(\d+)/.exec(spec)?.[1] ?? 100);
  switch (kind) {
    case 'random':
      return large ? 0.0003 : 0.0002;
    case 'heuristic':
      return large ? (boardType === 'hexagonal' ? 0.0045 : 0.003) : 0.00025;
    case 'policy':
      return large ? 0.004 : 0.001;
    case 'mcts':
    case 'gumbel':
      return sims * (large ? 0.0004 : 0.0001);
    default:
      return large ? 0.003 : 0.00025;
  }
}

/** Estimated seconds of one game: moves of the board times the slowest seat's cost per move. */
export function secondsPerGame(boardType: string, numPlayers: number, playerMix: string[]): number {
  const moves = (MOVES[boardType] ?? 1000) * (1 + 0.25 * (numPlayers - 2));
  return moves * Math.max(...playerMix.map((s) => secondsPerMove(s, boardType)));
}

/** Games per shard for a run (used when neither the input nor the config names a shard size). */
export function adaptiveShardSize(run: { boardType: string; numPlayers: number; playerMix: string[]; numGames: number }): number {
  const forTime = Math.round(SHARD_SECONDS / secondsPerGame(run.boardType, run.numPlayers, run.playerMix));
  const forSpread = Math.ceil(run.numGames / MIN_SHARDS);
  return Math.max(1, Math.min(MAX_SHARD_SIZE, forTime, forSpread));
}
