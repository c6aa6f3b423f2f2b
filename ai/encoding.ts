/**
 * Neural-net encoding of RingRift states and moves (pure: no I/O, no clock, no randomness).
 *
 * - `encodeFeatures(state, out, offset)`: C × H × W float32 board planes, from the point of
 *   view of the player to move (relative seats: slot 0 = player to move, slot 1 = next, …).
 * - `encodeGlobals(state, out, offset)`: G float32 global features.
 * - `encodeMove(boardType, move)`: policy index in [0, policySize(boardType)).
 * - `decodeMove(boardType, index, state?)`: the move for an index. With a state it returns the
 *   engine's own legal move with that index (the exact object from `legalMoves(state)`), which
 *   fills in what a single index does not carry (captureTarget, line positions, region spaces,
 *   eliminationFromStack, recovery mode). Without a state it returns a skeleton move (geometry
 *   only).
 *
 * The layout of every plane, global and policy block is documented in ai/ENCODING.md; the
 * numbers there are produced by `policyLayout()` / `FEATURE_PLANES` / `GLOBAL_FEATURES` below.
 */
import { getGeometry, legalMoves, type BoardType, type GameState, type Move, type MoveType, type Position } from '../engine';

/** Bumped whenever a plane, a global or the policy layout changes meaning. */
export const ENCODER_VERSION = 'rr-enc-v1';

export const MAX_PLAYERS = 4;

// ───────────────────────────── spatial layout ─────────────────────────────

export interface SpatialLayout {
  boardType: BoardType;
  /** grid height = width (square: size; hex: 2R + 1) */
  H: number;
  W: number;
  /** board cells (engine cell order) */
  n: number;
  /** cellPix[i] = row * W + col of engine cell i (square: row y, col x; hex: row r+R, col q+R) */
  cellPix: Int32Array;
}

const spatialCache = new Map<BoardType, SpatialLayout>();

export function spatialLayout(boardType: BoardType): SpatialLayout {
  const hit = spatialCache.get(boardType);
  if (hit) return hit;
  const g = getGeometry(boardType);
  const H = g.isHex ? 2 * g.radius + 1 : g.size;
  const W = H;
  const cellPix = new Int32Array(g.n);
  for (let i = 0; i < g.n; i++) {
    const row = g.isHex ? g.ys[i] + g.radius : g.ys[i];
    const col = g.isHex ? g.xs[i] + g.radius : g.xs[i];
    cellPix[i] = row * W + col;
  }
  const lay: SpatialLayout = { boardType, H, W, n: g.n, cellPix };
  spatialCache.set(boardType, lay);
  return lay;
}

// ───────────────────────────── feature planes ─────────────────────────────

/** Scale for stack heights / cap heights / buried ring counts (value = min(count, SCALE) / SCALE). */
export const HEIGHT_SCALE = 10;

/**
 * Plane names in order. `*_s{k}` planes are per relative seat k (0 = player to move, then in
 * turn order); seats ≥ numPlayers stay zero.
 */
export const FEATURE_PLANES: readonly string[] = [
  ...[0, 1, 2, 3].map((k) => `stack_ctrl_s${k}`),
  ...[0, 1, 2, 3].map((k) => `stack_height_s${k}`),
  ...[0, 1, 2, 3].map((k) => `cap_height_s${k}`),
  ...[0, 1, 2, 3].map((k) => `buried_rings_s${k}`),
  ...[0, 1, 2, 3].map((k) => `marker_s${k}`),
  ...[0, 1, 2, 3].map((k) => `collapsed_s${k}`),
  'valid_cell',
  'empty_cell',
  'must_move_from',
  'pending_region',
];
export const NUM_PLANES = FEATURE_PLANES.length; // 28

const P_CTRL = 0;
const P_HEIGHT = 4;
const P_CAP = 8;
const P_BURIED = 12;
const P_MARKER = 16;
const P_COLLAPSED = 20;
const P_VALID = 24;
const P_EMPTY = 25;
const P_MUST = 26;
const P_PENDING = 27;

export const PHASES = [
  'ring_placement',
  'movement',
  'capture',
  'chain_capture',
  'line_processing',
  'territory_processing',
  'forced_elimination',
  'game_over',
] as const;

export const GLOBAL_FEATURES: readonly string[] = [
  ...PHASES.map((p) => `phase_${p}`),
  ...[0, 1, 2, 3].map((k) => `rings_in_hand_s${k}`),
  ...[0, 1, 2, 3].map((k) => `eliminated_s${k}`),
  ...[0, 1, 2, 3].map((k) => `territory_s${k}`),
  ...[0, 1, 2, 3].map((k) => `seat_present_s${k}`),
  'players_2',
  'players_3',
  'players_4',
  'swap_offered',
  'pending_line_reward',
  'turn_had_action',
  'move_count',
  'lps_rounds',
];
export const NUM_GLOBALS = GLOBAL_FEATURES.length; // 32

/** Features per sample for a board: [C, H, W]. */
export function featureShape(boardType: BoardType): [number, number, number] {
  const s = spatialLayout(boardType);
  return [NUM_PLANES, s.H, s.W];
}

/** Relative seat of absolute player p (1-based) seen from the player to move. */
function relSeat(state: GameState, p: number): number {
  const np = state.numPlayers;
  const cur = state.status === 'active' ? state.currentPlayer : 1;
  return (p - cur + np) % np;
}

/**
 * Write the C × H × W planes of `state` into `out` at `offset` (the region must be zero on
 * entry; a fresh Float32Array is). Returns the number of floats written (C·H·W).
 */
export function encodeFeatures(state: GameState, out: Float32Array, offset = 0): number {
  const lay = spatialLayout(state.boardType);
  const HW = lay.H * lay.W;
  const { cellPix, n } = lay;
  const np = state.numPlayers;
  const cur = state.status === 'active' ? state.currentPlayer : 1;
  const seatOf = (p: number): number => (p - cur + np) % np;
  const plane = (c: number): number => offset + c * HW;
  for (let i = 0; i < n; i++) {
    const px = cellPix[i];
    out[plane(P_VALID) + px] = 1;
    const h = state.height[i];
    const mk = state.marker[i];
    const col = state.collapsed[i];
    if (h) {
      const s = seatOf(state.ctrl[i]);
      out[plane(P_CTRL + s) + px] = 1;
      out[plane(P_HEIGHT + s) + px] = Math.min(h, HEIGHT_SCALE) / HEIGHT_SCALE;
      out[plane(P_CAP + s) + px] = Math.min(state.cap[i], HEIGHT_SCALE) / HEIGHT_SCALE;
      const r = state.rings[i]!;
      // buried rings: rings below the cap, per owner
      for (let k = 0; k < h - state.cap[i]; k++) {
        const bs = seatOf(r[k]);
        out[plane(P_BURIED + bs) + px] += 1 / HEIGHT_SCALE;
      }
    }
    if (mk) out[plane(P_MARKER + seatOf(mk)) + px] = 1;
    if (col) out[plane(P_COLLAPSED + seatOf(col)) + px] = 1;
    if (!h && !mk && !col) out[plane(P_EMPTY) + px] = 1;
  }
  // clamp buried counts at 1 (= HEIGHT_SCALE rings)
  for (let s = 0; s < MAX_PLAYERS; s++) {
    const b = plane(P_BURIED + s);
    for (let i = 0; i < n; i++) if (out[b + cellPix[i]] > 1) out[b + cellPix[i]] = 1;
  }
  if (state.status === 'active') {
    const must =
      state.phase === 'capture' || state.phase === 'chain_capture' ? state.attacker : state.phase === 'movement' ? state.mustMoveFrom : -1;
    if (must >= 0) out[plane(P_MUST) + cellPix[must]] = 1;
    if (state.pendingRegion) for (const c of state.pendingRegion) out[plane(P_PENDING) + cellPix[c]] = 1;
  }
  return NUM_PLANES * HW;
}

/** Write the G global features of `state` into `out` at `offset`. Returns G. */
export function encodeGlobals(state: GameState, out: Float32Array, offset = 0): number {
  const np = state.numPlayers;
  const g = state.geo;
  const ph = PHASES.indexOf(state.status === 'active' ? (state.phase as (typeof PHASES)[number]) : 'game_over');
  if (ph >= 0) out[offset + ph] = 1;
  let o = offset + PHASES.length;
  for (let p = 1; p <= np; p++) {
    const s = relSeat(state, p);
    out[o + s] = state.ringsInHand[p] / g.ringsPerPlayer;
    out[o + 4 + s] = Math.min(1, state.eliminated[p] / state.victoryThreshold);
    out[o + 8 + s] = Math.min(1, state.territory[p] / state.territoryVictoryMinimum);
    out[o + 12 + s] = 1;
  }
  o += 16;
  out[o + np - 2] = 1;
  o += 3;
  const swap = state.swapEnabled && !state.swapUsed && !state.p2Moved && state.currentPlayer === 2 && state.phase === 'ring_placement';
  out[o++] = swap ? 1 : 0;
  out[o++] = state.pendingLineReward ? 1 : 0;
  out[o++] = state.turnHadAction ? 1 : 0;
  out[o++] = Math.min(1, state.moveCount / 1000);
  out[o++] = Math.min(1, state.lps.consecutiveRounds / Math.max(1, state.lpsRoundsRequired));
  return NUM_GLOBALS;
}

// ───────────────────────────── policy layout ─────────────────────────────

/** Single-index moves, in block order. */
export const SPECIAL_MOVES: readonly MoveType[] = [
  'skip_placement',
  'no_placement_action',
  'swap_sides',
  'skip_capture',
  'no_movement_action',
  'skip_recovery',
  'no_line_action',
  'skip_territory_processing',
  'no_territory_action',
];

/** Max placementCount encoded (1..3). */
export const MAX_PLACEMENT_COUNT = 3;
/** Shortest line the layout makes room for (segments of length ≥ 3). */
export const MIN_LINE_LENGTH = 3;
/**
 * Region size slots of the territory block: slot = (regionSize − 1) mod 16. Two legal regions
 * of one state can share representative cell and controlling player only when one is the
 * colour-bounded and the other the collapsed-bounded region around the same cells (nested, so
 * their sizes differ); they collide only if the sizes differ by a multiple of 16.
 */
export const REGION_SIZE_BUCKETS = 16;

export interface PolicyBlock {
  name: string;
  base: number;
  size: number;
  /** what the offset inside the block means */
  layout: string;
  moveTypes: MoveType[];
}

export interface PolicyLayout {
  boardType: BoardType;
  /** cells */
  n: number;
  /** movement directions (8 square, 6 hex) */
  D: number;
  /** longest straight move (square: size − 1; hex: 2R) */
  maxDist: number;
  /** line directions (4 square, 3 hex) */
  nLineDirs: number;
  /** longest line (square: size; hex: 2R + 1) */
  maxLine: number;
  /** options per line: process_line, collapse-all, then one per segment offset */
  lineOpts: number;
  place: number;
  move: number;
  recovery: number;
  line: number;
  territory: number;
  elim: number;
  forced: number;
  special: number;
  size: number;
  blocks: PolicyBlock[];
}

const layoutCache = new Map<BoardType, PolicyLayout>();

export function policyLayout(boardType: BoardType): PolicyLayout {
  const hit = layoutCache.get(boardType);
  if (hit) return hit;
  const g = getGeometry(boardType);
  const n = g.n;
  const D = g.D;
  const maxDist = g.isHex ? 2 * g.radius : g.size - 1;
  const nLineDirs = g.lineDirs.length;
  const maxLine = g.isHex ? 2 * g.radius + 1 : g.size;
  const lineOpts = 2 + (maxLine - MIN_LINE_LENGTH + 1);
  const sizes = {
    place: n * MAX_PLACEMENT_COUNT,
    move: n * D * maxDist,
    recovery: n * D * 2,
    line: n * nLineDirs * lineOpts,
    territory: n * MAX_PLAYERS * REGION_SIZE_BUCKETS,
    elim: n,
    forced: n,
    special: SPECIAL_MOVES.length,
  };
  let base = 0;
  const blocks: PolicyBlock[] = [];
  const add = (name: keyof typeof sizes, layout: string, moveTypes: MoveType[]): number => {
    const b = base;
    blocks.push({ name, base: b, size: sizes[name], layout, moveTypes });
    base += sizes[name];
    return b;
  };
  const place = add('place', 'cell * 3 + (placementCount - 1)', ['place_ring']);
  const move = add('move', '(from * D + dir) * maxDist + (distance - 1)', ['move_stack', 'overtaking_capture', 'continue_capture_segment']);
  const recovery = add('recovery', '(from * D + dir) * 2 + (option === 2 ? 1 : 0)', ['recovery_slide']);
  const line = add(
    'line',
    '(lineStart * nLineDirs + lineDir) * lineOpts + opt (0 process_line, 1 collapse all, 2 + k segment at offset k)',
    ['process_line', 'choose_line_option'],
  );
  const territory = add('territory', '(cell * 4 + (controllingPlayer - 1)) * 16 + (regionSize - 1) % 16', ['choose_territory_option']);
  const elim = add('elim', 'cell', ['eliminate_rings_from_stack']);
  const forced = add('forced', 'cell', ['forced_elimination']);
  const special = add('special', SPECIAL_MOVES.join(', '), [...SPECIAL_MOVES]);
  const lay: PolicyLayout = {
    boardType,
    n,
    D,
    maxDist,
    nLineDirs,
    maxLine,
    lineOpts,
    place,
    move,
    recovery,
    line,
    territory,
    elim,
    forced,
    special,
    size: base,
    blocks,
  };
  layoutCache.set(boardType, lay);
  return lay;
}

export function policySize(boardType: BoardType): number {
  return policyLayout(boardType).size;
}

export class MoveEncodingError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'MoveEncodingError';
  }
}

function cellOf(boardType: BoardType, p: Position | undefined, what: string, move: Move): number {
  const i = p ? getGeometry(boardType).indexOf(p) : -1;
  if (i < 0) throw new MoveEncodingError(`${move.type}: ${what} ${JSON.stringify(p)} is not a cell of ${boardType}`);
  return i;
}

/** Direction index and distance from cell a to cell b (straight line), or throws. */
function dirDist(boardType: BoardType, a: number, b: number, move: Move): { d: number; dist: number } {
  const g = getGeometry(boardType);
  const dx = g.xs[b] - g.xs[a];
  const dy = g.ys[b] - g.ys[a];
  const dz = g.zs[b] - g.zs[a];
  const dist = g.isHex ? Math.max(Math.abs(dx), Math.abs(dy), Math.abs(dz)) : Math.max(Math.abs(dx), Math.abs(dy));
  if (dist > 0 && dx % dist === 0 && dy % dist === 0) {
    const ux = dx / dist;
    const uy = dy / dist;
    for (let d = 0; d < g.D; d++) if (g.dirVecs[d].x === ux && g.dirVecs[d].y === uy) return { d, dist };
  }
  throw new MoveEncodingError(
    `${move.type}: ${JSON.stringify(move.from)} → ${JSON.stringify(move.to)} is not a straight move on ${boardType}`,
  );
}

/** Line start cell, line-direction slot and the set of line cells (by position along the line). */
function lineGeometry(boardType: BoardType, move: Move): { start: number; ld: number; cells: number[]; along: Map<number, number> } {
  const g = getGeometry(boardType);
  const fl = move.formedLines?.[0];
  if (!fl || !Array.isArray(fl.positions) || fl.positions.length === 0) {
    // legacy shape without formedLines: the line is identified by `to` only
    const t = cellOf(boardType, move.to, 'to', move);
    return { start: t, ld: 0, cells: [t], along: new Map([[t, 0]]) };
  }
  const cells = fl.positions.map((p) => cellOf(boardType, p, 'line position', move));
  // direction: formedLines[0].direction, else from the first two cells
  let vx = fl.direction?.x;
  let vy = fl.direction?.y;
  if ((typeof vx !== 'number' || typeof vy !== 'number') && cells.length >= 2) {
    const { d } = dirDist(boardType, cells[0], cells[1], move);
    vx = g.dirVecs[d].x;
    vy = g.dirVecs[d].y;
  }
  // the axis (a reversed direction vector names the same axis)
  let ld = -1;
  for (let k = 0; k < g.lineDirs.length && ld < 0; k++) {
    const v = g.dirVecs[g.lineDirs[k]];
    if ((v.x === vx && v.y === vy) || (v.x === -(vx as number) && v.y === -(vy as number))) ld = k;
  }
  if (ld < 0) {
    if (cells.length === 1) ld = 0;
    else throw new MoveEncodingError(`${move.type}: line direction ${JSON.stringify(fl.direction)} is not a line axis of ${boardType}`);
  }
  const v = g.dirVecs[g.lineDirs[ld]];
  // position along the axis: projection onto the direction vector (exact for straight lines)
  const proj = (c: number): number => (v.x !== 0 ? g.xs[c] / v.x : g.ys[c] / v.y);
  let start = cells[0];
  for (const c of cells) if (proj(c) < proj(start)) start = c;
  const along = new Map<number, number>();
  const p0 = proj(start);
  for (const c of cells) along.set(c, proj(c) - p0);
  return { start, ld, cells, along };
}

/**
 * Policy index of a move (see ai/ENCODING.md). Pure and cheap; the move's `player` is not
 * encoded (the policy is always that of the player to move). Throws MoveEncodingError for a
 * move that has no place on the board (off-board cell, non-straight movement, …).
 */
export function encodeMove(boardType: BoardType, move: Move): number {
  const L = policyLayout(boardType);
  switch (move.type) {
    case 'place_ring': {
      const c = cellOf(boardType, move.to, 'to', move);
      const cnt = move.placementCount ?? 1;
      if (!Number.isInteger(cnt) || cnt < 1 || cnt > MAX_PLACEMENT_COUNT)
        throw new MoveEncodingError(`place_ring: placementCount ${String(cnt)} is outside 1..${MAX_PLACEMENT_COUNT}`);
      return L.place + c * MAX_PLACEMENT_COUNT + (cnt - 1);
    }
    case 'move_stack':
    case 'overtaking_capture':
    case 'continue_capture_segment': {
      const a = cellOf(boardType, move.from, 'from', move);
      const b = cellOf(boardType, move.to, 'to', move);
      const { d, dist } = dirDist(boardType, a, b, move);
      return L.move + (a * L.D + d) * L.maxDist + (dist - 1);
    }
    case 'recovery_slide': {
      const a = cellOf(boardType, move.from, 'from', move);
      const b = cellOf(boardType, move.to, 'to', move);
      const { d, dist } = dirDist(boardType, a, b, move);
      if (dist !== 1)
        throw new MoveEncodingError(`recovery_slide: ${JSON.stringify(move.from)} → ${JSON.stringify(move.to)} is not a one-step slide`);
      return L.recovery + (a * L.D + d) * 2 + (move.option === 2 ? 1 : 0);
    }
    case 'process_line':
    case 'choose_line_option': {
      const { start, ld, cells, along } = lineGeometry(boardType, move);
      let opt: number;
      if (move.type === 'process_line') opt = 0;
      else {
        const cm = move.collapsedMarkers ?? [];
        if (cm.length === 0 || cm.length >= cells.length) opt = 1;
        else {
          let k = Infinity;
          for (const p of cm) {
            const a = along.get(cellOf(boardType, p, 'collapsed marker', move));
            if (a === undefined) throw new MoveEncodingError('choose_line_option: collapsed marker outside the line');
            k = Math.min(k, a);
          }
          opt = 2 + k;
        }
      }
      if (opt >= L.lineOpts) throw new MoveEncodingError(`${move.type}: line option ${opt} does not fit the layout`);
      return L.line + (start * L.nLineDirs + ld) * L.lineOpts + opt;
    }
    case 'choose_territory_option': {
      const reg = move.disconnectedRegions?.[0];
      const rep = reg && reg.spaces && reg.spaces.length ? reg.spaces[0] : move.to;
      const c = cellOf(boardType, rep, 'region cell', move);
      const owner = reg?.controllingPlayer ?? move.player;
      if (!Number.isInteger(owner) || owner < 1 || owner > MAX_PLAYERS)
        throw new MoveEncodingError(`choose_territory_option: controllingPlayer ${String(owner)} is outside 1..4`);
      const sz = reg?.spaces?.length ?? 1;
      const bucket = (Math.max(sz, 1) - 1) % REGION_SIZE_BUCKETS;
      return L.territory + (c * MAX_PLAYERS + (owner - 1)) * REGION_SIZE_BUCKETS + bucket;
    }
    case 'eliminate_rings_from_stack':
      return L.elim + cellOf(boardType, move.to, 'to', move);
    case 'forced_elimination':
      return L.forced + cellOf(boardType, move.to, 'to', move);
    default: {
      const k = SPECIAL_MOVES.indexOf(move.type);
      if (k < 0) throw new MoveEncodingError(`unknown move type ${String(move.type)}`);
      return L.special + k;
    }
  }
}

/** Policy indices of the state's legal moves (same order as `legalMoves(state)`). */
export function encodeLegalMoves(state: GameState): { moves: Move[]; indices: Int32Array } {
  const moves = legalMoves(state);
  const indices = new Int32Array(moves.length);
  for (let i = 0; i < moves.length; i++) indices[i] = encodeMove(state.boardType, moves[i]);
  return { moves, indices };
}

export interface DecodeOptions {
  /** player for skeleton moves (no state given); default 1 */
  player?: number;
}

/**
 * The move with policy index `index`.
 *
 * With `state`: the legal move of `state` whose index is `index` (the engine's own object), or
 * null when no legal move has that index. Without `state`: a skeleton move carrying only what
 * the index holds (type, from/to, placementCount, option, line start, region representative);
 * for capture-like indices the type is `move_stack` (which one applies is decided by the state).
 */
export function decodeMove(boardType: BoardType, index: number, state?: GameState | null, opts: DecodeOptions = {}): Move | null {
  const L = policyLayout(boardType);
  if (!Number.isInteger(index) || index < 0 || index >= L.size) return null;
  if (state) {
    if (state.boardType !== boardType) throw new MoveEncodingError(`decodeMove: state is ${state.boardType}, not ${boardType}`);
    for (const m of legalMoves(state)) if (encodeMove(boardType, m) === index) return m;
    return null;
  }
  const g = getGeometry(boardType);
  const player = opts.player ?? 1;
  const ORIGIN: Position = { x: 0, y: 0 };
  if (index < L.move) {
    const off = index - L.place;
    const cell = Math.floor(off / MAX_PLACEMENT_COUNT);
    const cnt = (off % MAX_PLACEMENT_COUNT) + 1;
    const m: Move = { player, to: g.pos(cell), type: 'place_ring' };
    if (cnt > 1) m.placementCount = cnt;
    return m;
  }
  const ray = (a: number, d: number, dist: number): number => {
    let c = a;
    for (let k = 0; k < dist && c >= 0; k++) c = g.step[c * g.D + d];
    return c;
  };
  if (index < L.recovery) {
    const off = index - L.move;
    const dist = (off % L.maxDist) + 1;
    const fd = Math.floor(off / L.maxDist);
    const a = Math.floor(fd / L.D);
    const d = fd % L.D;
    const b = ray(a, d, dist);
    if (b < 0) return null;
    return { from: g.pos(a), player, to: g.pos(b), type: 'move_stack' };
  }
  if (index < L.line) {
    const off = index - L.recovery;
    const opt2 = off % 2;
    const fd = Math.floor(off / 2);
    const a = Math.floor(fd / L.D);
    const d = fd % L.D;
    const b = ray(a, d, 1);
    if (b < 0) return null;
    return {
      extractionStacks: [],
      from: g.pos(a),
      option: opt2 ? 2 : 1,
      player,
      recoveryMode: 'line',
      to: g.pos(b),
      type: 'recovery_slide',
    };
  }
  if (index < L.territory) {
    const off = index - L.line;
    const opt = off % L.lineOpts;
    const cd = Math.floor(off / L.lineOpts);
    const start = Math.floor(cd / L.nLineDirs);
    const dv = g.dirVecs[g.lineDirs[cd % L.nLineDirs]];
    const direction: Position = g.isHex ? { x: dv.x, y: dv.y, z: dv.z } : { x: dv.x, y: dv.y };
    const m: Move = {
      formedLines: [{ direction, length: 0, player, positions: [g.pos(start)] }],
      player,
      to: g.pos(start),
      type: opt === 0 ? 'process_line' : 'choose_line_option',
    };
    return m;
  }
  if (index < L.elim) {
    const off = index - L.territory;
    const cell = Math.floor(off / (MAX_PLAYERS * REGION_SIZE_BUCKETS));
    const owner = (Math.floor(off / REGION_SIZE_BUCKETS) % MAX_PLAYERS) + 1;
    return {
      disconnectedRegions: [{ controllingPlayer: owner, isDisconnected: true, spaces: [g.pos(cell)] }],
      player,
      to: g.pos(cell),
      type: 'choose_territory_option',
    };
  }
  if (index < L.forced) return { player, to: g.pos(index - L.elim), type: 'eliminate_rings_from_stack' };
  if (index < L.special) return { player, to: g.pos(index - L.forced), type: 'forced_elimination' };
  const type = SPECIAL_MOVES[index - L.special];
  return { player: type === 'swap_sides' ? 2 : player, to: ORIGIN, type };
}
