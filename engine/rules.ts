// Legal move enumeration (host set), move application, host end-of-game checks.
import { fastMoveKey } from './keys';
import { GameState, IllegalMoveError, bookkeeping, lineInfo, territoryInfo, type LineCells } from './state';
import type { Move, MoveType, Position, VictoryReason } from './types';

/** Moves that do not count as an action of the turn (forced-elimination and LPS bookkeeping). */
export const NO_ACTION_TYPES = new Set<MoveType>([
  'no_placement_action',
  'no_movement_action',
  'no_line_action',
  'no_territory_action',
  'skip_placement',
  'skip_territory_processing',
]);

const BOOKKEEPING_SETS_PLAYER = new Set<MoveType>([
  'no_placement_action',
  'skip_placement',
  'no_movement_action',
  'no_line_action',
  'no_territory_action',
]);

// ───────────────────────────── enumeration ─────────────────────────────

function swapOffered(s: GameState): boolean {
  return s.swapEnabled && !s.swapUsed && !s.p2Moved && s.currentPlayer === 2 && s.phase === 'ring_placement';
}

function skipPlacementEligible(s: GameState, p: number): boolean {
  if (s.ringsInHand[p] <= 0) return false;
  if (!s.controlsAnyStack(p)) return s.recoveryEligible(p);
  return s.hasAnyStackAction(p);
}

function lineMoves(s: GameState, p: number, out: Move[]): void {
  const lines = s.findLines(p, s.lineLength);
  const L = s.lineLength;
  for (const l of lines) {
    const info = lineInfo(s, l);
    const to = info.positions[0];
    if (l.cells.length >= s.coreLineLength) {
      out.push({ formedLines: [info], player: p, to, type: 'process_line' });
    }
    out.push({ collapsedMarkers: info.positions.slice(), formedLines: [info], player: p, to, type: 'choose_line_option' });
    if (l.cells.length > L) {
      for (let k = 0; k + L <= l.cells.length; k++)
        out.push({
          collapsedMarkers: info.positions.slice(k, k + L),
          formedLines: [info],
          player: p,
          to,
          type: 'choose_line_option',
        });
    }
  }
}

function stackElimMove(s: GameState, i: number, p: number, type: MoveType, context: 'line' | 'territory' | 'recovery' | null): Move {
  const pos = s.geo.pos(i);
  const cap = s.cap[i];
  const m: Move = { player: p, to: pos, type } as Move;
  if (context === 'line') {
    m.eliminatedRings = [{ count: 1, player: p }];
    m.eliminationContext = 'line';
    return m;
  }
  m.eliminatedRings = [{ count: context === 'recovery' ? 1 : cap, player: p }];
  if (context) m.eliminationContext = context;
  m.eliminationFromStack = { capHeight: cap, position: s.geo.pos(i), totalHeight: s.height[i] };
  return m;
}

function pushKey(keys: string[], outLen: number, k: string): void {
  while (keys.length < outLen - 1) keys.push('');
  keys.push(k);
}

let SORT_KEYS: string[] = [];
function cmpByKey(a: number, b: number): number {
  const x = SORT_KEYS[a];
  const y = SORT_KEYS[b];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Core + host legal moves in generation order (not sorted, may contain duplicates). */
export function rawLegalMoves(s: GameState, keys?: string[]): Move[] {
  const out: Move[] = [];
  if (s.status !== 'active') return out;
  const p = s.currentPlayer;
  const g = s.geo;
  const pkeys = g.posKeys;
  // keys (optional) are filled for the hot move types here, the rest after generation
  switch (s.phase) {
    case 'ring_placement': {
      if (s.ringsInHand[p] > 0) {
        for (const c of s.placementCells(p)) {
          out.push({ player: p, to: g.posShared(c), type: 'place_ring' });
          if (keys) pushKey(keys, out.length, '{"player":' + p + ',"to":' + pkeys[c] + ',"type":"place_ring"}');
        }
        if (skipPlacementEligible(s, p)) out.push(bookkeeping('skip_placement', p));
      }
      if (out.length === 0) out.push(bookkeeping('no_placement_action', p));
      if (swapOffered(s)) out.push(bookkeeping('swap_sides', 2));
      return out;
    }
    case 'movement': {
      const tmp: number[] = [];
      for (let i = 0; i < g.n; i++) {
        if (s.ctrl[i] !== p) continue;
        if (s.mustMoveFrom >= 0 && i !== s.mustMoveFrom) continue;
        tmp.length = 0;
        s.simpleMovesFrom(i, tmp);
        const from = g.posShared(i);
        const fk = '{"from":' + pkeys[i] + ',"player":' + p + ',"to":';
        for (const j of tmp) {
          out.push({ from, player: p, to: g.posShared(j), type: 'move_stack' });
          if (keys) pushKey(keys, out.length, fk + pkeys[j] + ',"type":"move_stack"}');
        }
        tmp.length = 0;
        s.capturesFrom(i, tmp);
        for (let k = 0; k < tmp.length; k += 2) {
          out.push({ captureTarget: g.posShared(tmp[k]), from, player: p, to: g.posShared(tmp[k + 1]), type: 'overtaking_capture' });
          if (keys)
            pushKey(
              keys,
              out.length,
              '{"captureTarget":' + pkeys[tmp[k]] + ',' + fk.slice(1) + pkeys[tmp[k + 1]] + ',"type":"overtaking_capture"}',
            );
        }
      }
      if (s.mustMoveFrom < 0 && s.recoveryEligible(p)) {
        // a recovery-eligible player may always decline recovery, even with no slide available
        for (const m of recoveryMoves(s, p)) out.push(m);
        out.push(bookkeeping('skip_recovery', p));
      }
      if (out.length === 0) out.push(bookkeeping('no_movement_action', p));
      return out;
    }
    case 'capture':
    case 'chain_capture': {
      const i = s.attacker;
      const tmp: number[] = [];
      if (i >= 0 && s.ctrl[i] === p) s.capturesFrom(i, tmp);
      const type: MoveType = s.phase === 'capture' ? 'overtaking_capture' : 'continue_capture_segment';
      const from = i >= 0 ? g.posShared(i) : { x: 0, y: 0 };
      for (let k = 0; k < tmp.length; k += 2) {
        out.push({ captureTarget: g.posShared(tmp[k]), from, player: p, to: g.posShared(tmp[k + 1]), type });
        if (keys)
          pushKey(
            keys,
            out.length,
            '{"captureTarget":' +
              pkeys[tmp[k]] +
              ',"from":' +
              pkeys[i] +
              ',"player":' +
              p +
              ',"to":' +
              pkeys[tmp[k + 1]] +
              ',"type":"' +
              type +
              '"}',
          );
      }
      if (s.phase === 'capture') out.push(bookkeeping('skip_capture', p));
      return out;
    }
    case 'line_processing': {
      if (s.pendingLineReward) {
        for (let i = 0; i < g.n; i++) if (s.ctrl[i] === p) out.push(stackElimMove(s, i, p, 'eliminate_rings_from_stack', 'line'));
      } else {
        lineMoves(s, p, out);
      }
      if (out.length === 0) out.push(bookkeeping('no_line_action', p));
      return out;
    }
    case 'territory_processing': {
      if (s.pendingRegion) {
        const inReg = new Uint8Array(g.n);
        for (const c of s.pendingRegion) inReg[c] = 1;
        for (let i = 0; i < g.n; i++) {
          if (!s.height[i] || inReg[i]) continue;
          if (s.turnHadRecovery) {
            if (s.hasBuriedRing(i, p)) out.push(stackElimMove(s, i, p, 'eliminate_rings_from_stack', 'recovery'));
          } else if (s.ctrl[i] === p) out.push(stackElimMove(s, i, p, 'eliminate_rings_from_stack', 'territory'));
        }
      } else {
        const regions = s.processableRegions(p, s.turnHadRecovery);
        for (const r of regions)
          out.push({ disconnectedRegions: [territoryInfo(s, r)], player: p, to: g.pos(r.cells[0]), type: 'choose_territory_option' });
        if (regions.length) out.push(bookkeeping('skip_territory_processing', p));
      }
      if (out.length === 0) out.push(bookkeeping('no_territory_action', p));
      return out;
    }
    case 'forced_elimination': {
      for (let i = 0; i < g.n; i++) if (s.ctrl[i] === p) out.push(stackElimMove(s, i, p, 'forced_elimination', null));
      return out;
    }
    default:
      return out;
  }
}

function recoveryMoves(s: GameState, p: number): Move[] {
  const g = s.geo;
  const { step, D } = g;
  const lineMovesOut: Move[] = [];
  const fallback: Move[] = [];
  for (let m = 0; m < g.n; m++) {
    if (s.marker[m] !== p) continue;
    const from = g.pos(m);
    for (let d = 0; d < D; d++) {
      const t = step[m * D + d];
      if (t < 0 || s.collapsed[t]) continue;
      if (s.height[t]) {
        fallback.push({ extractionStacks: [], from, player: p, recoveryMode: 'stack_strike', to: g.pos(t), type: 'recovery_slide' });
        continue;
      }
      if (s.marker[t]) continue;
      const line = s.recoveryLineAt(m, t, p);
      if (line) {
        lineMovesOut.push({ extractionStacks: [], from, option: 1, player: p, recoveryMode: 'line', to: g.pos(t), type: 'recovery_slide' });
        if (line.length > s.lineLength)
          // option 2 (over-long line, no extraction) names the markers it collapses: the first
          // required-length segment of the line
          lineMovesOut.push({
            collapsePositions: line.slice(0, s.lineLength).map((c) => g.pos(c)),
            extractionStacks: [],
            from,
            option: 2,
            player: p,
            recoveryMode: 'line',
            to: g.pos(t),
            type: 'recovery_slide',
          });
      } else {
        fallback.push({ extractionStacks: [], from, player: p, recoveryMode: 'fallback', to: g.pos(t), type: 'recovery_slide' });
      }
    }
  }
  return lineMovesOut.length ? lineMovesOut : fallback;
}

/** Host legal move set: canonical keys sorted ascending, duplicates removed. */
export function legalMovesWithKeys(s: GameState): { moves: Move[]; keys: string[] } {
  const c = s.legalCache;
  if (c !== null && c.version === s.boardVersion) return { moves: c.moves.slice(), keys: c.keys.slice() };
  const r = computeLegalMovesWithKeys(s);
  s.legalCache = { version: s.boardVersion, moves: r.moves.slice(), keys: r.keys.slice() };
  return r;
}

function computeLegalMovesWithKeys(s: GameState): { moves: Move[]; keys: string[] } {
  const rawKeys: string[] = [];
  const raw = rawLegalMoves(s, rawKeys);
  const n = raw.length;
  for (let i = 0; i < n; i++) if (i >= rawKeys.length || rawKeys[i] === '') rawKeys[i] = fastMoveKey(raw[i]);
  const idx: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  SORT_KEYS = rawKeys;
  idx.sort(cmpByKey);
  SORT_KEYS = [];
  const moves: Move[] = [];
  const keys: string[] = [];
  for (const i of idx) {
    const k = rawKeys[i];
    if (keys.length && keys[keys.length - 1] === k) continue;
    moves.push(raw[i]);
    keys.push(k);
  }
  return { moves, keys };
}

// ───────────────────────────── victory ─────────────────────────────

export interface VictoryVerdict {
  winner: number | null;
  reason: VictoryReason;
}

export function evaluateVictory(s: GameState): VictoryVerdict | null {
  const np = s.numPlayers;
  for (let p = 1; p <= np; p++) if (s.eliminated[p] >= s.victoryThreshold) return { winner: p, reason: 'ring_elimination' };
  let totalTerr = 0;
  for (let p = 1; p <= np; p++) totalTerr += s.territory[p];
  for (let p = 1; p <= np; p++) {
    const t = s.territory[p];
    if (t >= s.territoryVictoryMinimum && t > totalTerr - t) return { winner: p, reason: 'territory_control' };
  }
  const n = s.geo.n;
  let owner = 0;
  let multi = false;
  for (let i = 0; i < n; i++) {
    const c = s.ctrl[i];
    if (!c) continue;
    if (owner === 0) owner = c;
    else if (c !== owner) {
      multi = true;
      break;
    }
  }
  if (owner && !multi) {
    let others = false;
    for (let p = 1; p <= np && !others; p++) if (p !== owner && s.hasMaterial(p)) others = true;
    if (!others) return { winner: owner, reason: 'last_player_standing' };
  }
  if (s.stackCount > 0) return null;
  let anyHand = false;
  for (let p = 1; p <= np; p++) if (s.ringsInHand[p] > 0) anyHand = true;
  if (anyHand) {
    for (let p = 1; p <= np; p++) if (s.ringsInHand[p] > 0 && s.hasAnyPlacement(p)) return null;
  }
  return stalemateLadder(s, anyHand);
}

function stalemateLadder(s: GameState, handAsElim: boolean): VictoryVerdict {
  const np = s.numPlayers;
  const unique = (vals: number[]): number => {
    let max = -Infinity;
    for (let p = 1; p <= np; p++) max = Math.max(max, vals[p]);
    let who = 0;
    let cnt = 0;
    for (let p = 1; p <= np; p++)
      if (vals[p] === max) {
        cnt++;
        who = p;
      }
    return cnt === 1 && max > 0 ? who : 0;
  };
  const terr = [0];
  const elim = [0];
  const marks = [0];
  for (let p = 1; p <= np; p++) {
    terr.push(s.territory[p]);
    elim.push(s.eliminated[p] + (handAsElim ? s.ringsInHand[p] : 0));
    marks.push(0);
  }
  for (let i = 0; i < s.geo.n; i++) if (s.marker[i]) marks[s.marker[i]]++;
  let w = unique(terr);
  if (w) return { winner: w, reason: 'territory_control' };
  w = unique(elim);
  if (w) return { winner: w, reason: 'ring_elimination' };
  w = unique(marks);
  if (w) return { winner: w, reason: 'last_player_standing' };
  if (s.lastActor) return { winner: s.lastActor, reason: 'last_player_standing' };
  return { winner: null, reason: 'game_completed' };
}

function complete(s: GameState, v: VictoryVerdict, hostEvent: GameState['hostEvent']): void {
  s.status = 'completed';
  s.winner = v.winner;
  s.victoryReason = v.reason;
  s.phase = 'game_over';
  s.hostEvent = hostEvent;
}

// ───────────────────────────── phase transitions ─────────────────────────────

function startTurn(s: GameState, p: number): void {
  s.currentPlayer = p;
  s.phase = 'ring_placement';
  s.mustMoveFrom = -1;
  s.attacker = -1;
  s.pendingRegion = null;
  s.pendingLineReward = false;
  s.turnHadAction = false;
  s.turnHadRecovery = false;
}

function endTurn(s: GameState): void {
  const v = evaluateVictory(s);
  if (v) {
    complete(s, v, null);
    return;
  }
  startTurn(s, nextSeatWithMaterial(s, s.currentPlayer));
}

/**
 * The seat after `p` in turn order, passing over every player with no rings anywhere (none in
 * hand, none in any stack, buried ones included). Used at every turn end, including the one after
 * a forced elimination.
 */
function nextSeatWithMaterial(s: GameState, p: number): number {
  const np = s.numPlayers;
  let next = (p % np) + 1;
  for (let k = 0; k < np - 1; k++) {
    if (s.hasMaterial(next)) break;
    next = (next % np) + 1;
  }
  return next;
}

function enterLinePhase(s: GameState): void {
  s.phase = 'line_processing';
  s.attacker = -1;
}

function afterLineStep(s: GameState): void {
  if (s.pendingLineReward) return;
  // the reference re-checks with its core line finder (base length 4 on hex8)
  if (s.findLines(s.currentPlayer, s.coreLineLength).length > 0) {
    s.phase = 'line_processing';
    return;
  }
  exitLinePhase(s);
}

function exitLinePhase(s: GameState): void {
  const p = s.currentPlayer;
  if (s.processableRegions(p, false).length > 0) {
    s.phase = 'territory_processing';
    return;
  }
  if (!s.turnHadAction && s.controlsAnyStack(p)) {
    s.phase = 'forced_elimination';
    return;
  }
  s.phase = 'territory_processing';
}

function afterTerritoryStep(s: GameState): void {
  const p = s.currentPlayer;
  if (s.processableRegions(p, s.turnHadRecovery).length > 0) {
    s.phase = 'territory_processing';
    return;
  }
  territoryComplete(s);
}

function territoryComplete(s: GameState): void {
  const p = s.currentPlayer;
  if (!s.turnHadAction && s.controlsAnyStack(p) && !s.hasAnyPlacement(p)) {
    s.phase = 'forced_elimination';
    s.pendingRegion = null;
    return;
  }
  endTurn(s);
}

// ───────────────────────────── apply ─────────────────────────────

function cellOf(s: GameState, pos: Position | undefined, what: string, m: Move): number {
  const i = pos ? s.geo.indexOf(pos) : -1;
  if (i < 0) throw new IllegalMoveError('board.position', `${what} is not a cell of ${s.boardType}`, m);
  return i;
}

/** Process markers on cells strictly between a and b (direction d) for player p. */
function processPath(s: GameState, a: number, b: number, d: number, p: number): void {
  const { step, D } = s.geo;
  let c = step[a * D + d];
  while (c >= 0 && c !== b) {
    const mk = s.marker[c];
    if (mk) {
      if (mk === p) {
        s.marker[c] = 0;
        s.collapseCell(c, p);
      } else s.marker[c] = p;
    }
    c = step[c * D + d];
  }
}

function landOnMarker(s: GameState, j: number, p: number): void {
  if (s.marker[j]) {
    s.marker[j] = 0;
    const k = s.removeTop(j, 1);
    s.eliminated[p] += k;
  }
}

function applyMovement(s: GameState, m: Move, p: number): number {
  const a = cellOf(s, m.from, 'from', m);
  const b = cellOf(s, m.to, 'to', m);
  const d = s.dirBetween(a, b);
  if (d < 0) throw new IllegalMoveError('movement.straight_line', 'movement must follow a straight line', m);
  processPath(s, a, b, d, p);
  const r = s.takeStack(a);
  s.marker[a] = p;
  s.setStack(b, r);
  landOnMarker(s, b, p);
  return b;
}

function applyCapture(s: GameState, m: Move, p: number): number {
  const a = cellOf(s, m.from, 'from', m);
  const t = cellOf(s, m.captureTarget, 'captureTarget', m);
  const b = cellOf(s, m.to, 'to', m);
  const d = s.dirBetween(a, b);
  if (d < 0) throw new IllegalMoveError('capture.straight_line', 'capture must follow a straight line', m);
  processPath(s, a, t, d, p);
  processPath(s, t, b, d, p);
  const attacker = s.takeStack(a);
  s.marker[a] = p;
  const tr = s.rings[t]!;
  const captured = tr[tr.length - 1];
  s.removeTop(t, 1);
  attacker.unshift(captured);
  s.setStack(b, attacker);
  // a target that survives is re-inserted in the reference's stack map after the landing stack:
  // it moves to the end of the order that buried-ring extraction scans
  if (s.rings[t]) s.seq[t] = ++s.seqCounter;
  landOnMarker(s, b, p);
  return b;
}

function collapseCells(s: GameState, cells: number[], p: number): void {
  for (const c of cells) {
    s.marker[c] = 0;
    s.collapseCell(c, p);
  }
}

function findLineFor(s: GameState, m: Move): LineCells | null {
  const fl = m.formedLines && m.formedLines[0];
  if (!fl || !fl.positions || fl.positions.length === 0) {
    // legacy shape: identify the line by `to`
    const t = m.to ? s.geo.indexOf(m.to) : -1;
    if (t < 0) return null;
    return s.findLines(m.player, s.lineLength).find((l) => l.cells.includes(t)) ?? null;
  }
  const cells = fl.positions.map((q) => s.geo.indexOf(q));
  if (cells.some((c) => c < 0)) return null;
  return { cells, player: fl.player, dir: -1 };
}

function extractBuried(s: GameState, p: number, exclude?: Uint8Array): void {
  const i = s.firstBuriedStack(p, exclude);
  if (i >= 0 && s.extractBottomRing(i, p)) s.eliminated[p] += 1;
}

/**
 * Apply a move (assumed legal) to the state in place, including the host end-of-game checks.
 * Throws IllegalMoveError on structurally malformed moves.
 */
export function applyMoveUnchecked(s: GameState, m: Move, runHostChecks = true): void {
  if (s.status !== 'active') throw new IllegalMoveError('game.not_active', 'game is over', m);
  // The reference credits move.player and, for the bookkeeping moves, also makes it the current
  // player; turn rotation follows currentPlayer. (On every legal move the two are identical.)
  const p = m.player >= 1 && m.player <= s.numPlayers ? m.player : s.currentPlayer;
  if (BOOKKEEPING_SETS_PLAYER.has(m.type)) s.currentPlayer = p;
  const phaseBefore = s.phase;
  s.boardVersion++;
  if (!NO_ACTION_TYPES.has(m.type)) s.turnHadAction = true;
  switch (m.type) {
    case 'place_ring': {
      const i = cellOf(s, m.to, 'to', m);
      const cnt = m.placementCount ?? 1;
      const rs: number[] = [];
      for (let k = 0; k < cnt; k++) rs.push(p);
      s.addRingsOnTop(i, rs);
      s.ringsInHand[p] -= cnt;
      s.phase = 'movement';
      s.mustMoveFrom = i;
      break;
    }
    case 'skip_placement':
    case 'no_placement_action':
      s.phase = 'movement';
      break;
    case 'swap_sides':
      s.swapUsed = true;
      break;
    case 'move_stack': {
      const b = applyMovement(s, m, p);
      s.mustMoveFrom = -1;
      if (s.ctrl[b] === p && s.hasCaptureFrom(b)) {
        s.phase = 'capture';
        s.attacker = b;
      } else enterLinePhase(s);
      break;
    }
    case 'overtaking_capture':
    case 'continue_capture_segment': {
      const b = applyCapture(s, m, p);
      s.mustMoveFrom = -1;
      if (s.ctrl[b] === p && s.hasCaptureFrom(b)) {
        s.phase = 'chain_capture';
        s.attacker = b;
      } else enterLinePhase(s);
      break;
    }
    case 'skip_capture':
    case 'no_movement_action':
    case 'skip_recovery':
      enterLinePhase(s);
      break;
    case 'recovery_slide': {
      const a = cellOf(s, m.from, 'from', m);
      const t = cellOf(s, m.to, 'to', m);
      s.turnHadRecovery = true;
      const mode = m.recoveryMode ?? (m.option !== undefined ? 'line' : 'fallback');
      if (mode === 'stack_strike') {
        // the extraction stack is chosen among the stacks as they were before the strike, so the
        // struck stack itself qualifies when p's ring was buried under the ring the strike removes
        const src = s.firstBuriedStack(p);
        s.marker[a] = 0;
        const k = s.removeTop(t, 1);
        s.eliminated[p] += k;
        if (src >= 0 && s.extractBottomRing(src, p)) s.eliminated[p] += 1;
      } else {
        s.marker[a] = 0;
        s.marker[t] = p;
        if (mode === 'line') {
          // the reference applies the first line through the destination in E, S, SE, NE order
          let best: number[] | null = null;
          for (const d of s.geo.isHex ? [0, 1, 2] : [0, 2, 1, 3]) {
            const cells = s.lineThrough(t, d, p);
            if (cells.length >= s.lineLength) {
              best = cells;
              break;
            }
          }
          if (best) {
            if (m.option === 2) {
              const cp = m.collapsePositions?.map((q) => s.geo.indexOf(q)).filter((c) => c >= 0);
              collapseCells(s, cp && cp.length ? cp : best.slice(0, s.lineLength), p);
            } else {
              collapseCells(s, best, p);
              extractBuried(s, p);
            }
          }
        } else {
          extractBuried(s, p);
        }
      }
      enterLinePhase(s);
      break;
    }
    case 'process_line': {
      const line = findLineFor(s, m);
      if (line && line.cells.length === s.lineLength) {
        collapseCells(s, line.cells, p);
        if (s.controlsAnyStack(p)) s.pendingLineReward = true;
        afterLineStep(s);
      }
      // over-long line (longer than the required length, e.g. a 4-line on hex8 with 3–4 players):
      // the reference treats process_line as a no-op
      break;
    }
    case 'choose_line_option': {
      const line = findLineFor(s, m);
      if (!line) break; // no such line: the reference leaves the state unchanged
      const cm = (m.collapsedMarkers ?? []).map((q) => s.geo.indexOf(q)).filter((c) => c >= 0);
      const all = cm.length === 0 || cm.length >= line.cells.length;
      collapseCells(s, all ? line.cells : cm, p);
      if (all && s.controlsAnyStack(p)) s.pendingLineReward = true;
      afterLineStep(s);
      break;
    }
    case 'no_line_action':
      exitLinePhase(s);
      break;
    case 'eliminate_rings_from_stack': {
      const i = cellOf(s, m.to, 'to', m);
      if (s.phase === 'line_processing') {
        s.eliminated[p] += s.removeTop(i, 1);
        s.pendingLineReward = false;
        // the reference stays in line_processing after the reward elimination (left via no_line_action)
        s.phase = 'line_processing';
      } else {
        if (m.eliminationContext === 'recovery') {
          if (s.extractBottomRing(i, p)) s.eliminated[p] += 1;
        } else {
          s.eliminated[p] += s.removeTop(i, s.cap[i]);
        }
        s.pendingRegion = null;
        afterTerritoryStep(s);
      }
      break;
    }
    case 'choose_territory_option': {
      const reg = m.disconnectedRegions && m.disconnectedRegions[0];
      let cells: number[];
      if (reg) cells = reg.spaces.map((q) => s.geo.indexOf(q)).filter((c) => c >= 0);
      else {
        // legacy shape: the processable region whose representative (first space) is `to`
        const t = m.to ? s.geo.indexOf(m.to) : -1;
        const r = s.processableRegions(p, s.turnHadRecovery).find((x) => x.cells[0] === t);
        if (!r) break; // the reference leaves the state unchanged when no region matches
        cells = r.cells;
      }
      const border = s.borderMarkers(cells);
      let internal = 0;
      for (const c of cells) {
        if (s.height[c]) internal += s.takeStack(c).length;
      }
      collapseCells(s, cells, p);
      collapseCells(s, border, p);
      s.boardVersion++;
      s.eliminated[p] += internal;
      s.pendingRegion = cells;
      s.phase = 'territory_processing';
      break;
    }
    case 'skip_territory_processing':
    case 'no_territory_action':
      s.pendingRegion = null;
      territoryComplete(s);
      break;
    case 'forced_elimination': {
      const i = cellOf(s, m.to, 'to', m);
      s.eliminated[p] += s.removeTop(i, s.cap[i]);
      const v = evaluateVictory(s);
      if (v) complete(s, v, null);
      else startTurn(s, nextSeatWithMaterial(s, p));
      break;
    }
    default:
      throw new IllegalMoveError('move.type', `unknown move type ${String((m as Move).type)}`, m);
  }
  s.moveCount++;
  s.lastActor = m.player;
  if (m.player === 2) s.p2Moved = true;
  if (runHostChecks) hostChecks(s, phaseBefore);
}

// ───────────────────────────── host end-of-game checks ─────────────────────────────

function hostChecks(s: GameState, phaseBefore: string): void {
  if (s.status !== 'active') return;
  if (s.stackCount === 0) {
    let anyHand = false;
    for (let p = 1; p <= s.numPlayers; p++) if (s.ringsInHand[p] > 0) anyHand = true;
    if (!anyHand) {
      complete(s, stalemateLadder(s, false), 'bare_board_stalemate');
      return;
    }
  }
  const v = evaluateVictory(s);
  if (v) {
    complete(s, v, 'early_victory');
    return;
  }
  if (s.phase === 'ring_placement' && phaseBefore !== 'ring_placement') {
    updateLps(s);
    const w = evaluateLps(s);
    if (w) complete(s, { winner: w, reason: 'last_player_standing' }, 'lps_victory');
  }
}

function updateLps(s: GameState): void {
  const lps = s.lps;
  const cur = s.currentPlayer;
  const active: number[] = [];
  for (let p = 1; p <= s.numPlayers; p++) if (s.hasMaterial(p)) active.push(p);
  if (active.length === 0) return;
  if (!active.includes(cur)) return;
  const first = lps.firstPlayer;
  const startingNew = first === null || !active.includes(first);
  if (startingNew) {
    lps.roundIndex++;
    lps.firstPlayer = cur;
    lps.mask.clear();
    lps.exclusivePlayer = null;
    const ex = lps.consecutivePlayer;
    if (ex === null || !active.includes(ex)) {
      lps.consecutiveRounds = 0;
      lps.consecutivePlayer = null;
    }
  } else if (cur === first && lps.mask.size > 0) {
    const truePlayers = active.filter((q) => lps.mask.get(q));
    const excl = truePlayers.length === 1 ? truePlayers[0] : null;
    lps.exclusivePlayer = excl;
    if (excl !== null) {
      if (excl === lps.consecutivePlayer) lps.consecutiveRounds++;
      else {
        lps.consecutivePlayer = excl;
        lps.consecutiveRounds = 1;
      }
    } else {
      lps.consecutiveRounds = 0;
      lps.consecutivePlayer = null;
    }
    lps.roundIndex++;
    lps.mask.clear();
    lps.firstPlayer = cur;
  }
  lps.mask.set(cur, s.hasRealAction(cur));
}

function evaluateLps(s: GameState): number | null {
  const lps = s.lps;
  if (lps.consecutiveRounds < s.lpsRoundsRequired) return null;
  const cand = lps.consecutivePlayer;
  if (cand === null) return null;
  if (s.currentPlayer !== cand) return null;
  if (!s.hasRealAction(cand)) return null;
  for (let p = 1; p <= s.numPlayers; p++) {
    if (p === cand || !s.hasMaterial(p)) continue;
    if (s.hasRealAction(p)) return null;
  }
  return cand;
}
