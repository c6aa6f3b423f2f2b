// Trace verification (pure): replay a recorded reference game and compare every step.
//
// Compared after every step: fingerprint, hash, gameStatus; while the game is active also
// phase and currentPlayer (the reference leaves untidy raw values in completed states; the
// fingerprint normalises those); legalMoveCount; and, where the trace records them, the legal
// move set. Legal moves are compared as SETS of normalised keys: the canonical key of each move
// with every inner position list (formedLines[].positions, collapsedMarkers,
// disconnectedRegions[].spaces, collapsePositions) sorted by the canonical JSON of the
// position. At the end the result (winner, victoryReason) is compared.
import {
  createInitialState,
  fingerprint,
  gameResult,
  hashState,
  legalMovesWithKeys,
  normalizedMoveKey,
  parseMove,
  type GameState,
  type Move,
  type RulesOptions,
} from './index';
import { applyMoveUnchecked } from './rules';
import { isBoardType } from './geometry';

export interface TraceSnapshot {
  fingerprint: string;
  hash: string;
  phase?: string;
  currentPlayer?: number;
  gameStatus?: string;
  legalMoveCount?: number;
  legalMoves?: string[];
}

export interface TraceStep extends TraceSnapshot {
  k: number;
  move: Record<string, unknown>;
  hostEvent?: string;
}

export interface TraceGame {
  id?: string;
  boardType: string;
  numPlayers: number;
  seed: number;
  rulesOptions?: RulesOptions;
  initial: TraceSnapshot;
  steps: TraceStep[];
  result?: { gameStatus?: string; winner: number | null; victoryReason: string | null; moves?: number; truncated?: boolean };
}

export interface StepMismatch {
  /** 0 = initial state */
  k: number;
  fields: string[];
  detail: string;
  expectedFingerprint: string;
  actualFingerprint: string;
}

export interface GameVerifyReport {
  id: string;
  positions: number;
  mismatches: number;
  first?: StepMismatch;
  error?: string;
}

/** Normalised key set of a list of canonical keys (see header comment). */
export function normalizeKeyList(keys: string[]): string[] {
  return keys.map((k) => normalizedMoveKey(JSON.parse(k) as Move)).sort();
}

function compareLegal(state: GameState, rec: TraceSnapshot, fields: string[], details: string[]): void {
  if (state.status !== 'active') {
    if (rec.legalMoveCount !== undefined && rec.legalMoveCount !== 0) {
      fields.push('legalMoveCount');
      details.push(`legalMoveCount expected ${rec.legalMoveCount}, actual 0`);
    }
    return;
  }
  const { moves } = legalMovesWithKeys(state);
  if (rec.legalMoveCount !== undefined && rec.legalMoveCount !== moves.length) {
    fields.push('legalMoveCount');
    details.push(`legalMoveCount expected ${rec.legalMoveCount}, actual ${moves.length}`);
  }
  if (rec.legalMoves) {
    const actual = new Set(moves.map((m) => normalizedMoveKey(m)));
    const expected = new Set(normalizeKeyList(rec.legalMoves));
    const missing = [...expected].filter((k) => !actual.has(k));
    const extra = [...actual].filter((k) => !expected.has(k));
    if (missing.length || extra.length) {
      fields.push('legalMoves');
      details.push(
        `legal moves differ: ${missing.length} missing${missing.length ? ` (e.g. ${missing[0]})` : ''}, ${extra.length} extra${extra.length ? ` (e.g. ${extra[0]})` : ''}`,
      );
    }
  }
}

function compareSnapshot(state: GameState, rec: TraceSnapshot, k: number): StepMismatch | null {
  const fields: string[] = [];
  const details: string[] = [];
  const actualFp = fingerprint(state);
  if (actualFp !== rec.fingerprint) fields.push('fingerprint');
  if (hashState(state) !== rec.hash) fields.push('hash');
  if (rec.gameStatus !== undefined && rec.gameStatus !== state.status) {
    fields.push('gameStatus');
    details.push(`gameStatus expected ${rec.gameStatus}, actual ${state.status}`);
  }
  if (state.status === 'active' && rec.gameStatus !== 'completed') {
    if (rec.phase !== undefined && rec.phase !== state.phase) {
      fields.push('phase');
      details.push(`phase expected ${rec.phase}, actual ${state.phase}`);
    }
    if (rec.currentPlayer !== undefined && rec.currentPlayer !== state.currentPlayer) {
      fields.push('currentPlayer');
      details.push(`currentPlayer expected ${rec.currentPlayer}, actual ${state.currentPlayer}`);
    }
  }
  compareLegal(state, rec, fields, details);
  if (!fields.length) return null;
  return { k, fields, detail: details.join('; '), expectedFingerprint: rec.fingerprint, actualFingerprint: actualFp };
}

/** Replay one recorded game and compare every state. Never throws on engine errors (reported). */
export function verifyGame(game: TraceGame): GameVerifyReport {
  const id = game.id ?? `${game.boardType}-${game.numPlayers}p-s${game.seed}`;
  const report: GameVerifyReport = { id, positions: 0, mismatches: 0 };
  if (!isBoardType(game.boardType)) {
    report.mismatches = 1;
    report.error = `unknown boardType ${String(game.boardType)}`;
    return report;
  }
  let state: GameState;
  try {
    state = createInitialState({
      boardType: game.boardType,
      numPlayers: game.numPlayers,
      seed: game.seed,
      rulesOptions: game.rulesOptions ?? { swapRuleEnabled: false },
    });
  } catch (e) {
    report.mismatches = 1;
    report.error = (e as Error).message;
    return report;
  }
  const note = (m: StepMismatch | null): void => {
    report.positions++;
    if (!m) return;
    report.mismatches++;
    if (!report.first) report.first = m;
  };
  note(compareSnapshot(state, game.initial, 0));
  for (const step of game.steps) {
    try {
      if (state.status !== 'active') throw new Error('game already over in the engine');
      applyMoveUnchecked(state, parseMove(step.move));
    } catch (e) {
      report.positions++;
      report.mismatches++;
      const msg = `step ${step.k}: engine rejected the recorded move: ${(e as Error).message}`;
      report.error = msg;
      if (!report.first)
        report.first = {
          k: step.k,
          fields: ['apply'],
          detail: msg,
          expectedFingerprint: step.fingerprint,
          actualFingerprint: fingerprint(state),
        };
      return report;
    }
    note(compareSnapshot(state, step, step.k));
  }
  if (game.result) {
    const r = gameResult(state);
    const expStatus = game.result.gameStatus ?? 'completed';
    const bad =
      (expStatus === 'completed' &&
        (r.status !== 'completed' || r.winner !== game.result.winner || r.victoryReason !== game.result.victoryReason)) ||
      (expStatus === 'active' && r.status !== 'active');
    if (bad) {
      report.mismatches++;
      const msg = `result expected ${expStatus} winner ${game.result.winner} (${game.result.victoryReason}), actual ${r.status} winner ${r.winner} (${r.victoryReason})`;
      if (!report.first)
        report.first = {
          k: game.steps.length,
          fields: ['result'],
          detail: msg,
          expectedFingerprint: game.steps.length ? game.steps[game.steps.length - 1].fingerprint : game.initial.fingerprint,
          actualFingerprint: fingerprint(state),
        };
    }
  }
  return report;
}
