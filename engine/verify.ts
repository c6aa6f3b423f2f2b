// Trace verification (pure): replay a recorded reference game and compare every step.
//
// Compared after every step: fingerprint, hash, gameStatus; while the game is active also
// phase and currentPlayer (the reference leaves untidy raw values in completed states; the
// fingerprint normalises those); legalMoveCount; and, where the trace records them (square8,
// hex8), the legal moves as the EXACT ORDERED list of canonical keys (the trace format's
// `legalMoves`: canonical keys, array contents in the engine's order, sorted by plain string
// comparison, de-duplicated). At the end the result (winner, victoryReason) is compared.
//
// Games whose trace carries `error` (the reference failed on its own offered move, or offered
// none) are reported separately (`referenceError`): the recorded steps are verified as usual,
// then the engine's behaviour at the failure is checked against the decision documented in
// engine/README.md ("Reference-error games"): the move the reference offered and then rejected
// must be legal here and apply cleanly; an active state must never have zero legal moves.
import {
  createInitialState,
  fingerprint,
  gameResult,
  hashState,
  legalMovesWithKeys,
  moveKey,
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
  /** set by the generator when the reference threw on an offered move or offered none */
  error?: string;
}

/** What the engine does where the reference failed (a trace with `error`). */
export interface ReferenceErrorReport {
  /** the trace's error text */
  error: string;
  /** the move the reference offered and then threw on, when the error names one */
  move?: Record<string, unknown>;
  /** one line: the engine's behaviour there */
  outcome: string;
  /** true when that behaviour is the documented decision (otherwise it counts as a mismatch) */
  ok: boolean;
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
  /** present when the trace carries `error` */
  referenceError?: ReferenceErrorReport;
}

/** Normalised key set of a list of canonical keys (inner position lists sorted; diagnostics only). */
export function normalizeKeyList(keys: string[]): string[] {
  return keys.map((k) => normalizedMoveKey(JSON.parse(k) as Move)).sort();
}

function shorten(k: string | undefined): string {
  if (k === undefined) return '(none)';
  return k.length > 240 ? k.slice(0, 240) + '…' : k;
}

/** Exact ordered comparison of the engine's key list with the recorded one. */
function compareKeyLists(actual: string[], expected: string[]): string | null {
  const n = Math.max(actual.length, expected.length);
  let i = 0;
  while (i < n && actual[i] === expected[i]) i++;
  if (i === n) return null;
  const exp = new Set(expected);
  const act = new Set(actual);
  const missing = expected.filter((k) => !act.has(k));
  const extra = actual.filter((k) => !exp.has(k));
  let what: string;
  if (missing.length || extra.length) {
    // the same moves with inner lists in another order count here too: name that case
    const sameNormalised = normalizeKeyList(expected).join('\n') === normalizeKeyList(actual).join('\n');
    what = `${missing.length} missing${missing.length ? ` (e.g. ${shorten(missing[0])})` : ''}, ${extra.length} extra${extra.length ? ` (e.g. ${shorten(extra[0])})` : ''}${sameNormalised ? ' (same moves, inner position lists in another order)' : ''}`;
  } else what = 'same keys in another order or with other duplicates';
  return `legal move list differs at index ${i} (expected ${shorten(expected[i])}, actual ${shorten(actual[i])}): ${what}`;
}

function compareLegal(state: GameState, rec: TraceSnapshot, fields: string[], details: string[]): void {
  if (state.status !== 'active') {
    if (rec.legalMoveCount !== undefined && rec.legalMoveCount !== 0) {
      fields.push('legalMoveCount');
      details.push(`legalMoveCount expected ${rec.legalMoveCount}, actual 0`);
    }
    if (rec.legalMoves && rec.legalMoves.length) {
      fields.push('legalMoves');
      details.push(`legal moves expected ${rec.legalMoves.length}, actual none (game over)`);
    }
    return;
  }
  const { keys } = legalMovesWithKeys(state);
  if (rec.legalMoveCount !== undefined && rec.legalMoveCount !== keys.length) {
    fields.push('legalMoveCount');
    details.push(`legalMoveCount expected ${rec.legalMoveCount}, actual ${keys.length}`);
  }
  if (rec.legalMoves) {
    const d = compareKeyLists(keys, rec.legalMoves);
    if (d) {
      fields.push('legalMoves');
      details.push(d);
    }
  }
}

/** The move JSON named by a generator error `processTurn threw on {...}: message`, if any. */
export function moveFromReferenceError(error: string): Record<string, unknown> | undefined {
  const at = error.indexOf('{');
  if (at < 0) return undefined;
  let depth = 0;
  let inStr = false;
  for (let i = at; i < error.length; i++) {
    const c = error[i];
    if (inStr) {
      if (c === '\\') i++;
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      try {
        const v = JSON.parse(error.slice(at, i + 1)) as unknown;
        return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * The engine's behaviour where the reference failed (see engine/README.md, "Reference-error
 * games"): a move the reference offered must be in our legal list and apply without error; an
 * active state must have at least one legal move.
 */
function checkReferenceError(state: GameState, error: string): ReferenceErrorReport {
  const move = moveFromReferenceError(error);
  if (state.status !== 'active') return { error, move, outcome: 'the engine has already ended the game there', ok: false };
  const { keys } = legalMovesWithKeys(state);
  if (!move) {
    return keys.length > 0
      ? { error, outcome: `the engine offers ${keys.length} legal moves there`, ok: true }
      : { error, outcome: 'the engine offers no legal move either', ok: false };
  }
  let parsed: Move;
  try {
    parsed = parseMove(move);
  } catch (e) {
    return { error, move, outcome: `the named move does not parse: ${(e as Error).message}`, ok: false };
  }
  if (!keys.includes(moveKey(parsed))) return { error, move, outcome: 'the engine does not offer that move', ok: false };
  const after = state.clone();
  try {
    applyMoveUnchecked(after, parsed);
  } catch (e) {
    return { error, move, outcome: `the engine rejects it too: ${(e as Error).message}`, ok: false };
  }
  const n = after.status === 'active' ? legalMovesWithKeys(after).keys.length : 0;
  return {
    error,
    move,
    outcome: `the engine offers it and applies it: ${after.status}, ${after.phase}, player ${after.currentPlayer}, ${n} legal moves, hash ${hashState(after)}`,
    ok: after.status !== 'active' || n > 0,
  };
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
  if (typeof game.error === 'string') {
    const re = checkReferenceError(state, game.error);
    report.referenceError = re;
    if (!re.ok) {
      report.mismatches++;
      if (!report.first)
        report.first = {
          k: game.steps.length + 1,
          fields: ['referenceError'],
          detail: `where the reference failed: ${re.outcome}`,
          expectedFingerprint: game.steps.length ? game.steps[game.steps.length - 1].fingerprint : game.initial.fingerprint,
          actualFingerprint: fingerprint(state),
        };
    }
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
