// One self-play game as a storable record: pure and deterministic given (config, game seed, players).
import {
  applyMoveTrusted,
  createInitialState,
  fingerprint,
  hashFingerprint,
  legalMoves,
  mulberry32,
  type BoardType,
  type GameState,
  type Move,
} from '../engine';
import { createPlayer, parsePlayerSpec, type Player } from './players';

export interface GameConfig {
  boardType: BoardType;
  numPlayers: number;
}

export function configKey(c: GameConfig): string {
  return `${c.boardType}_${c.numPlayers}p`;
}

/** Seed of game `index` in a run seeded `runSeed` (a 32-bit mix, so neighbouring games are unrelated). */
export function gameSeed(runSeed: number, index: number): number {
  let z = (runSeed + Math.imul(index + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Seat specs for game `index`: a mix of one spec plays every seat; a mix of numPlayers specs rotates
 * one seat per game so that every spec plays every seat equally often.
 */
export function seatSpecs(playerMix: string[], numPlayers: number, index: number): string[] {
  if (playerMix.length === 1) return Array.from({ length: numPlayers }, () => playerMix[0]!);
  if (playerMix.length !== numPlayers) {
    throw new RangeError(`player mix has ${playerMix.length} specs; give 1 or ${numPlayers} (one per seat)`);
  }
  return Array.from({ length: numPlayers }, (_, seat) => playerMix[(seat + index) % numPlayers]!);
}

export interface PlayedStep {
  hashBefore: string;
  hashAfter: string;
  phaseBefore: string;
  phaseAfter: string;
  playerBefore: number;
  playerAfter: number;
  statusAfter: string;
}

export interface PlayedGame {
  seed: number;
  seats: string[];
  initial: { fingerprint: string; hash: string };
  moves: Move[];
  steps: PlayedStep[];
  winner: number | null;
  /** victory reason, `max_moves` when cut off */
  terminationReason: string;
  truncated: boolean;
}

export interface PlayOptions extends GameConfig {
  seed: number;
  seats: string[];
  maxMoves: number;
  /** Called every `everyMoves` moves (heartbeats on long games). */
  onProgress?: (movesPlayed: number) => void;
  everyMoves?: number;
}

/**
 * Records a game as it is played on `state`: each move is applied and its step (hashes, phases,
 * players) kept; `result` gives the storable record. Shared by the synchronous and the neural players' loops.
 */
export function gameRecorder(state: GameState, opts: Pick<PlayOptions, 'seed' | 'onProgress' | 'everyMoves'>) {
  const moves: Move[] = [];
  const steps: PlayedStep[] = [];
  let hash = hashFingerprint(fingerprint(state));
  const initial = { fingerprint: fingerprint(state), hash };
  const every = opts.everyMoves ?? 200;
  return {
    moves,
    /** Applies `move` for the player to move and records its step. */
    play(move: Move): void {
      const mover = state.currentPlayer;
      const phaseBefore = state.phase;
      applyMoveTrusted(state, move);
      const after = hashFingerprint(fingerprint(state));
      moves.push(move);
      steps.push({
        hashBefore: hash,
        hashAfter: after,
        phaseBefore,
        phaseAfter: state.phase,
        playerBefore: mover,
        playerAfter: state.currentPlayer,
        statusAfter: state.status,
      });
      hash = after;
      if (opts.onProgress && moves.length % every === 0) opts.onProgress(moves.length);
    },
    result(seats: string[]): PlayedGame {
      const truncated = state.status === 'active';
      return {
        seed: opts.seed,
        seats,
        initial,
        moves,
        steps,
        winner: truncated ? null : state.winner,
        terminationReason: truncated ? 'max_moves' : (state.victoryReason ?? 'unknown'),
        truncated,
      };
    },
  };
}

/** Plays one game. Players and the engine share one mulberry32(seed) stream, one draw per move. */
export function playGame(opts: PlayOptions): PlayedGame {
  const players: Player[] = opts.seats.map((s) => createPlayer(parsePlayerSpec(s)));
  const state = createInitialState({ boardType: opts.boardType, numPlayers: opts.numPlayers, seed: opts.seed });
  const rng = mulberry32(opts.seed);
  const game = gameRecorder(state, opts);
  while (state.status === 'active' && game.moves.length < opts.maxMoves) {
    game.play(players[state.currentPlayer - 1]!.chooseMove(state, legalMoves(state), rng));
  }
  return game.result(opts.seats);
}
