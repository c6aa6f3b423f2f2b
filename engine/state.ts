// Compact game state and the rules implementation (pure, deterministic, no I/O).
import { getGeometry, type Geometry } from './geometry';
import type { BoardType, GamePhase, GameStatus, LineInfo, Move, MoveType, Position, RulesOptions, Territory, VictoryReason } from './types';

/** Thrown by applyMove for a move that is not legal in the state. `rule` names the violated rule. */
export class IllegalMoveError extends Error {
  constructor(
    readonly rule: string,
    message: string,
    readonly move?: Move,
  ) {
    super(message);
    this.name = 'IllegalMoveError';
  }
}

export interface LpsState {
  roundIndex: number;
  mask: Map<number, boolean>;
  firstPlayer: number | null;
  exclusivePlayer: number | null;
  consecutiveRounds: number;
  consecutivePlayer: number | null;
}

export interface CreateOptions {
  boardType: BoardType;
  numPlayers: number;
  seed?: number;
  rulesOptions?: RulesOptions;
}

/** A detected marker line (cells in reference order, back to front along `dir`). */
export interface LineCells {
  cells: number[];
  player: number;
  dir: number;
}

/** A disconnected region (cells in the reference's BFS order). */
export interface RegionCells {
  cells: number[];
  controllingPlayer: number;
}

/**
 * Mutable compact state. Board cells are indexed 0..n-1 (see geometry.ts).
 * Ring stacks are stored bottom→top in `rings[i]`.
 */
export class GameState {
  readonly geo: Geometry;
  readonly boardType: BoardType;
  readonly numPlayers: number;
  readonly seed: number;
  readonly rulesOptions: RulesOptions;
  readonly swapEnabled: boolean;
  readonly lpsRoundsRequired: number;
  readonly victoryThreshold: number;
  readonly territoryVictoryMinimum: number;
  /** line length the hosts use (choose_line_option, recovery) */
  readonly lineLength: number;
  /** line length of the reference core line finder (process_line) */
  readonly coreLineLength: number;

  rings: (number[] | null)[];
  height: Int32Array;
  ctrl: Int8Array;
  cap: Int32Array;
  marker: Int8Array;
  collapsed: Int8Array;
  /** creation sequence of each stack (mirrors the reference's Map insertion order) */
  seq: Int32Array;
  seqCounter = 0;
  stackCount = 0;

  ringsInHand: Int32Array;
  eliminated: Int32Array;
  territory: Int32Array;

  currentPlayer = 1;
  phase: GamePhase = 'ring_placement';
  status: GameStatus = 'active';
  winner: number | null = null;
  victoryReason: VictoryReason | null = null;
  hostEvent: 'early_victory' | 'lps_victory' | 'bare_board_stalemate' | null = null;

  pendingLineReward = false;
  mustMoveFrom = -1;
  /** stack that just moved (capture phase) or chain position (chain_capture) */
  attacker = -1;
  /** processed region awaiting self-elimination */
  pendingRegion: number[] | null = null;
  turnHadAction = false;
  turnHadRecovery = false;
  swapUsed = false;
  p2Moved = false;
  moveCount = 0;
  lastActor = 0;
  lps: LpsState;

  constructor(opts: CreateOptions, clone?: GameState) {
    if (clone) {
      this.geo = clone.geo;
      this.boardType = clone.boardType;
      this.numPlayers = clone.numPlayers;
      this.seed = clone.seed;
      this.rulesOptions = clone.rulesOptions;
      this.swapEnabled = clone.swapEnabled;
      this.lpsRoundsRequired = clone.lpsRoundsRequired;
      this.victoryThreshold = clone.victoryThreshold;
      this.territoryVictoryMinimum = clone.territoryVictoryMinimum;
      this.lineLength = clone.lineLength;
      this.coreLineLength = clone.coreLineLength;
      this.rings = clone.rings.map((r) => (r ? r.slice() : null));
      this.height = clone.height.slice();
      this.ctrl = clone.ctrl.slice();
      this.cap = clone.cap.slice();
      this.marker = clone.marker.slice();
      this.collapsed = clone.collapsed.slice();
      this.seq = clone.seq.slice();
      this.seqCounter = clone.seqCounter;
      this.stackCount = clone.stackCount;
      this.ringsInHand = clone.ringsInHand.slice();
      this.eliminated = clone.eliminated.slice();
      this.territory = clone.territory.slice();
      this.currentPlayer = clone.currentPlayer;
      this.phase = clone.phase;
      this.status = clone.status;
      this.winner = clone.winner;
      this.victoryReason = clone.victoryReason;
      this.hostEvent = clone.hostEvent;
      this.pendingLineReward = clone.pendingLineReward;
      this.mustMoveFrom = clone.mustMoveFrom;
      this.attacker = clone.attacker;
      this.pendingRegion = clone.pendingRegion ? clone.pendingRegion.slice() : null;
      this.turnHadAction = clone.turnHadAction;
      this.turnHadRecovery = clone.turnHadRecovery;
      this.swapUsed = clone.swapUsed;
      this.p2Moved = clone.p2Moved;
      this.moveCount = clone.moveCount;
      this.lastActor = clone.lastActor;
      this.lps = { ...clone.lps, mask: new Map(clone.lps.mask) };
      return;
    }
    const { boardType, numPlayers } = opts;
    if (!Number.isInteger(numPlayers) || numPlayers < 2 || numPlayers > 4)
      throw new RangeError(`numPlayers must be 2, 3 or 4 (got ${String(numPlayers)})`);
    this.geo = getGeometry(boardType);
    this.boardType = boardType;
    this.numPlayers = numPlayers;
    this.seed = opts.seed ?? 0;
    this.rulesOptions = { ...(opts.rulesOptions ?? {}) };
    this.swapEnabled = numPlayers === 2 && this.rulesOptions.swapRuleEnabled === true;
    this.lpsRoundsRequired = this.rulesOptions.lpsRoundsRequired ?? 3;
    const rpp = this.geo.ringsPerPlayer;
    this.victoryThreshold = Math.round(rpp * (2 / 3 + (1 / 3) * (numPlayers - 1)));
    this.territoryVictoryMinimum = Math.floor(this.geo.totalSpaces / numPlayers) + 1;
    const small = boardType === 'square8' || boardType === 'hex8';
    this.lineLength = small && numPlayers >= 3 ? 3 : 4;
    this.coreLineLength = boardType === 'square8' && numPlayers >= 3 ? 3 : 4;
    const n = this.geo.n;
    this.rings = new Array<number[] | null>(n).fill(null);
    this.height = new Int32Array(n);
    this.ctrl = new Int8Array(n);
    this.cap = new Int32Array(n);
    this.marker = new Int8Array(n);
    this.collapsed = new Int8Array(n);
    this.seq = new Int32Array(n);
    this.ringsInHand = new Int32Array(numPlayers + 1);
    for (let p = 1; p <= numPlayers; p++) this.ringsInHand[p] = rpp;
    this.eliminated = new Int32Array(numPlayers + 1);
    this.territory = new Int32Array(numPlayers + 1);
    this.lps = {
      roundIndex: 0,
      mask: new Map(),
      firstPlayer: null,
      exclusivePlayer: null,
      consecutiveRounds: 0,
      consecutivePlayer: null,
    };
  }

  clone(): GameState {
    return new GameState({ boardType: this.boardType, numPlayers: this.numPlayers }, this);
  }

  // ───────────────────────────── stack primitives ─────────────────────────────

  private refresh(i: number): void {
    const r = this.rings[i];
    if (!r || r.length === 0) {
      if (r) this.stackCount--;
      this.rings[i] = null;
      this.height[i] = 0;
      this.ctrl[i] = 0;
      this.cap[i] = 0;
      return;
    }
    const h = r.length;
    const top = r[h - 1];
    let c = 1;
    while (c < h && r[h - 1 - c] === top) c++;
    this.height[i] = h;
    this.ctrl[i] = top;
    this.cap[i] = c;
  }

  /** Put rings (bottom→top order) on cell i (creating the stack if needed). */
  addRingsOnTop(i: number, ringsBottomToTop: number[]): void {
    let r = this.rings[i];
    if (!r) {
      r = [];
      this.rings[i] = r;
      this.stackCount++;
      this.seq[i] = ++this.seqCounter;
    }
    for (const x of ringsBottomToTop) r.push(x);
    this.refresh(i);
  }

  /** Remove `count` rings from the top of stack i; returns removed count. */
  removeTop(i: number, count: number): number {
    const r = this.rings[i];
    if (!r) return 0;
    const k = Math.min(count, r.length);
    r.length -= k;
    this.refresh(i);
    return k;
  }

  /** Remove the whole stack at i and return its rings (bottom→top). */
  takeStack(i: number): number[] {
    const r = this.rings[i];
    if (!r) return [];
    this.rings[i] = null;
    this.stackCount--;
    this.height[i] = 0;
    this.ctrl[i] = 0;
    this.cap[i] = 0;
    return r;
  }

  setStack(i: number, r: number[]): void {
    if (r.length === 0) return;
    if (!this.rings[i]) {
      this.stackCount++;
      this.seq[i] = ++this.seqCounter;
    }
    this.rings[i] = r;
    this.refresh(i);
  }

  /** true if player p has a ring in stack i below the top */
  hasBuriedRing(i: number, p: number): boolean {
    const r = this.rings[i];
    if (!r) return false;
    for (let k = 0; k < r.length - 1; k++) if (r[k] === p) return true;
    return false;
  }

  /** Remove the bottommost ring of player p from stack i (buried ring extraction). */
  extractBottomRing(i: number, p: number): boolean {
    const r = this.rings[i];
    if (!r) return false;
    const k = r.indexOf(p);
    if (k < 0) return false;
    r.splice(k, 1);
    this.refresh(i);
    return true;
  }

  controlsAnyStack(p: number): boolean {
    const n = this.geo.n;
    for (let i = 0; i < n; i++) if (this.ctrl[i] === p) return true;
    return false;
  }

  ringsOnBoard(p: number): number {
    let c = 0;
    for (const r of this.rings) if (r) for (const x of r) if (x === p) c++;
    return c;
  }

  hasMaterial(p: number): boolean {
    if (this.ringsInHand[p] > 0) return true;
    for (const r of this.rings) if (r) for (const x of r) if (x === p) return true;
    return false;
  }

  collapseCell(i: number, owner: number): void {
    const prev = this.collapsed[i];
    if (prev === owner) return;
    if (prev) this.territory[prev]--;
    this.collapsed[i] = owner;
    this.territory[owner]++;
  }

  // ───────────────────────────── movement geometry ─────────────────────────────

  /** Any legal non-capture move or capture from cell i for a stack (player, height h, cap c). */
  anyMoveOrCaptureFrom(i: number, h: number, c: number): boolean {
    const { step, D } = this.geo;
    const coll = this.collapsed;
    const hgt = this.height;
    for (let d = 0; d < D; d++) {
      let j = step[i * D + d];
      let dist = 1;
      while (j >= 0 && !coll[j] && (hgt[j] === 0 || j === i)) {
        if (dist >= h) return true;
        j = step[j * D + d];
        dist++;
      }
      if (j < 0 || coll[j]) continue;
      // j holds a stack: capture target?
      if (this.cap[j] > c) continue;
      let k = step[j * D + d];
      dist++;
      while (k >= 0 && !coll[k] && hgt[k] === 0) {
        if (dist >= h) return true;
        k = step[k * D + d];
        dist++;
      }
    }
    return false;
  }

  /** Legal placement cells for player p (count 1, no-dead-placement). */
  placementCells(p: number, out?: number[]): number[] {
    const res = out ?? [];
    if (this.ringsInHand[p] <= 0) return res;
    const n = this.geo.n;
    for (let i = 0; i < n; i++) {
      if (this.collapsed[i] || this.marker[i]) continue;
      const h = this.height[i];
      let nh: number;
      let nc: number;
      if (h === 0) {
        nh = 1;
        nc = 1;
      } else {
        nh = h + 1;
        nc = this.ctrl[i] === p ? this.cap[i] + 1 : 1;
      }
      if (this.anyMoveOrCaptureFrom(i, nh, nc)) res.push(i);
    }
    return res;
  }

  hasAnyPlacement(p: number): boolean {
    if (this.ringsInHand[p] <= 0) return false;
    const n = this.geo.n;
    for (let i = 0; i < n; i++) {
      if (this.collapsed[i] || this.marker[i]) continue;
      const h = this.height[i];
      const nh = h === 0 ? 1 : h + 1;
      const nc = h === 0 ? 1 : this.ctrl[i] === p ? this.cap[i] + 1 : 1;
      if (this.anyMoveOrCaptureFrom(i, nh, nc)) return true;
    }
    return false;
  }

  hasAnyStackAction(p: number): boolean {
    const n = this.geo.n;
    for (let i = 0; i < n; i++) if (this.ctrl[i] === p && this.anyMoveOrCaptureFrom(i, this.height[i], this.cap[i])) return true;
    return false;
  }

  /** Real actions for LPS: placement, movement or capture. */
  hasRealAction(p: number): boolean {
    return this.hasAnyStackAction(p) || this.hasAnyPlacement(p);
  }

  /** Simple moves from i: pushes destination cells. */
  simpleMovesFrom(i: number, out: number[]): void {
    const { step, D } = this.geo;
    const h = this.height[i];
    for (let d = 0; d < D; d++) {
      let j = step[i * D + d];
      let dist = 1;
      while (j >= 0 && !this.collapsed[j] && this.height[j] === 0) {
        if (dist >= h) out.push(j);
        j = step[j * D + d];
        dist++;
      }
    }
  }

  /** Captures from i: pushes (target, landing) pairs. */
  capturesFrom(i: number, out: number[]): void {
    const { step, D } = this.geo;
    const h = this.height[i];
    const c = this.cap[i];
    for (let d = 0; d < D; d++) {
      let j = step[i * D + d];
      let dist = 1;
      while (j >= 0 && !this.collapsed[j] && this.height[j] === 0) {
        j = step[j * D + d];
        dist++;
      }
      if (j < 0 || this.collapsed[j]) continue;
      if (this.cap[j] > c) continue;
      let k = step[j * D + d];
      dist++;
      while (k >= 0 && !this.collapsed[k] && this.height[k] === 0) {
        if (dist >= h) out.push(j, k);
        k = step[k * D + d];
        dist++;
      }
    }
  }

  hasCaptureFrom(i: number): boolean {
    const tmp: number[] = [];
    this.capturesFrom(i, tmp);
    return tmp.length > 0;
  }

  /** Direction index from a to b along a straight line, or -1. Also returns distance via out[0]. */
  dirBetween(a: number, b: number): number {
    const g = this.geo;
    const dx = g.xs[b] - g.xs[a];
    const dy = g.ys[b] - g.ys[a];
    const dz = g.zs[b] - g.zs[a];
    const dist = g.isHex ? Math.max(Math.abs(dx), Math.abs(dy), Math.abs(dz)) : Math.max(Math.abs(dx), Math.abs(dy));
    if (dist === 0) return -1;
    if (dx % dist !== 0 || dy % dist !== 0) return -1;
    const ux = dx / dist;
    const uy = dy / dist;
    for (let d = 0; d < g.D; d++) if (g.dirVecs[d].x === ux && g.dirVecs[d].y === uy) return d;
    return -1;
  }

  // ───────────────────────────── lines ─────────────────────────────

  /** All marker lines of player p (or all players if p = 0) with length >= minLen. */
  findLines(p: number, minLen: number): LineCells[] {
    const g = this.geo;
    const { step, D, lineDirs, opp, n } = g;
    const res: LineCells[] = [];
    const mk = this.marker;
    for (let i = 0; i < n; i++) {
      const owner = mk[i];
      if (!owner || (p && owner !== p)) continue;
      if (this.collapsed[i] || this.height[i]) continue;
      for (const d of lineDirs) {
        const back = step[i * D + opp[d]];
        if (back >= 0 && mk[back] === owner && !this.collapsed[back] && !this.height[back]) continue; // not the start
        let len = 1;
        let j = step[i * D + d];
        while (j >= 0 && mk[j] === owner && !this.collapsed[j] && !this.height[j]) {
          len++;
          j = step[j * D + d];
        }
        if (len >= minLen) {
          const cells: number[] = [i];
          let k = step[i * D + d];
          while (cells.length < len) {
            cells.push(k);
            k = step[k * D + d];
          }
          res.push({ cells, player: owner, dir: d });
        }
      }
    }
    return res;
  }

  /** Length of p's marker line through cell c in direction axis d (cell c assumed p's marker). */
  lineThrough(c: number, d: number, p: number): number[] {
    const { step, D, opp } = this.geo;
    const mk = this.marker;
    let s = c;
    for (;;) {
      const b = step[s * D + opp[d]];
      if (b >= 0 && mk[b] === p && !this.collapsed[b] && !this.height[b]) s = b;
      else break;
    }
    const cells = [s];
    let j = step[s * D + d];
    while (j >= 0 && mk[j] === p && !this.collapsed[j] && !this.height[j]) {
      cells.push(j);
      j = step[j * D + d];
    }
    return cells;
  }

  // ───────────────────────────── territory ─────────────────────────────

  /** Board version for caches: bumped by the rules layer whenever the board may have changed. */
  boardVersion = 0;
  /** cached sorted host legal set for boardVersion (see rules.legalMovesWithKeys) */
  legalCache: { version: number; moves: Move[]; keys: string[] } | null = null;
  private regionCache: RegionCells[] | null = null;
  private regionCacheVersion = -1;
  private bfsQueue: Int32Array | null = null;
  private bfsStamp: Int32Array | null = null;
  private bfsStampN = 0;

  /**
   * Disconnected regions, in the reference's detection order (per marker colour 1..n, then the
   * collapsed-only pass). Region cells are in the reference's BFS order. Cached per boardVersion.
   */
  findDisconnectedRegions(): RegionCells[] {
    if (this.regionCacheVersion === this.boardVersion && this.regionCache) return this.regionCache;
    const res = this.computeRegions();
    this.regionCache = res;
    this.regionCacheVersion = this.boardVersion;
    return res;
  }

  private computeRegions(): RegionCells[] {
    const n = this.geo.n;
    const res: RegionCells[] = [];
    const rings = this.rings;
    const mk = this.marker;
    // active colours: players with at least one ring anywhere on the board
    let active = 0;
    let markerColors = 0;
    for (let i = 0; i < n; i++) {
      const r = rings[i];
      if (r !== null) for (let k = 0; k < r.length; k++) active |= 1 << r[k];
      markerColors |= 1 << mk[i];
    }
    if (active === 0) return res;
    const activeCount = popcount(active);
    if (this.bfsQueue === null) {
      this.bfsQueue = new Int32Array(n);
      this.bfsStamp = new Int32Array(n);
    }
    const queue = this.bfsQueue;
    const stamp = this.bfsStamp!;
    const coll = this.collapsed;
    const ctrl = this.ctrl;
    const nbf = this.geo.terrFlat;
    const stride = this.geo.terrStride;
    for (let pass = 1; pass <= this.numPlayers + 1; pass++) {
      const border = pass <= this.numPlayers ? pass : -1;
      if (border > 0 && (markerColors & (1 << border)) === 0) continue;
      const st = ++this.bfsStampN;
      for (let i = 0; i < n; i++) {
        if (stamp[i] === st || coll[i] !== 0 || mk[i] === border) continue;
        let qh = 0;
        let qt = 1;
        queue[0] = i;
        stamp[i] = st;
        let rep = 0;
        while (qh < qt) {
          const cur = queue[qh++];
          const c = ctrl[cur];
          if (c !== 0) rep |= 1 << c;
          const base = cur * stride;
          for (let k = 0; k < stride; k++) {
            const x = nbf[base + k];
            if (x < 0) break;
            if (stamp[x] === st || coll[x] !== 0 || mk[x] === border) continue;
            stamp[x] = st;
            queue[qt++] = x;
          }
        }
        if (rep === active) continue;
        const rc = popcount(rep);
        if (rc < activeCount && (border > 0 || rc === 1)) {
          const cells = Array.from(queue.subarray(0, qt));
          res.push({ cells, controllingPlayer: border > 0 ? border : 31 - Math.clz32(rep) });
        }
      }
    }
    return res;
  }

  /** Can player p pay for region (cells) — territory or recovery context. */
  canProcessRegion(cells: number[], p: number, recovery: boolean): boolean {
    const inRegion = new Uint8Array(this.geo.n);
    for (const c of cells) inRegion[c] = 1;
    for (let i = 0; i < this.geo.n; i++) {
      if (!this.height[i] || inRegion[i]) continue;
      if (recovery) {
        if (this.hasBuriedRing(i, p)) return true;
      } else if (this.ctrl[i] === p) return true;
    }
    return false;
  }

  processableRegions(p: number, recovery: boolean): RegionCells[] {
    return this.findDisconnectedRegions().filter((r) => this.canProcessRegion(r.cells, p, recovery));
  }

  /** Border markers collapsed with a processed region. */
  borderMarkers(cells: number[]): number[] {
    const n = this.geo.n;
    const inRegion = new Uint8Array(n);
    for (const c of cells) inRegion[c] = 1;
    const seen = new Uint8Array(n);
    const out: number[] = [];
    for (const c of cells) {
      for (const x of this.geo.terrNbrs[c]) {
        if (inRegion[x] || seen[x]) continue;
        if (this.marker[x]) {
          seen[x] = 1;
          out.push(x);
        }
      }
    }
    if (out.length && BORDER_EXPANSION[this.boardType]) {
      const queue = out.slice();
      let qh = 0;
      const nbrs = this.geo.mooreNbrs;
      while (qh < queue.length) {
        const cur = queue[qh++];
        for (const x of nbrs[cur]) {
          if (seen[x] || inRegion[x]) continue;
          if (this.marker[x]) {
            seen[x] = 1;
            out.push(x);
            queue.push(x);
          }
        }
      }
    }
    return out;
  }

  // ───────────────────────────── recovery ─────────────────────────────

  recoveryEligible(p: number): boolean {
    const n = this.geo.n;
    let hasMarker = false;
    let hasBuried = false;
    for (let i = 0; i < n; i++) {
      if (this.ctrl[i] === p) return false;
      if (this.marker[i] === p) hasMarker = true;
      if (!hasBuried && this.height[i] && this.hasBuriedRing(i, p)) hasBuried = true;
    }
    return hasMarker && hasBuried;
  }

  /** Does sliding p's marker from m to empty cell t form a line of length >= lineLength? Returns line cells or null. */
  recoveryLineAt(m: number, t: number, p: number): number[] | null {
    const mk = this.marker;
    mk[m] = 0;
    mk[t] = p;
    let best: number[] | null = null;
    for (const d of this.geo.lineDirs) {
      const cells = this.lineThrough(t, d, p);
      if (cells.length >= this.lineLength && (!best || cells.length > best.length)) best = cells;
    }
    mk[t] = 0;
    mk[m] = p;
    return best;
  }

  /** First stack (reference Map insertion order) holding a buried ring of p, optionally excluding a set. */
  firstBuriedStack(p: number, exclude?: Uint8Array): number {
    const n = this.geo.n;
    let best = -1;
    for (let i = 0; i < n; i++) {
      if (!this.height[i] || (exclude && exclude[i])) continue;
      if (this.hasBuriedRing(i, p) && (best < 0 || this.seq[i] < this.seq[best])) best = i;
    }
    return best;
  }
}

/** Boards on which border markers are expanded across connected markers (reference behaviour). */
export const BORDER_EXPANSION: Record<BoardType, boolean> = {
  square8: true,
  square19: true,
  hex8: true,
  hexagonal: false,
};

function popcount(x: number): number {
  let c = 0;
  while (x) {
    x &= x - 1;
    c++;
  }
  return c;
}

export function createState(opts: CreateOptions): GameState {
  return new GameState(opts);
}

// ───────────────────────────── move construction helpers ─────────────────────────────

export function lineInfo(s: GameState, l: LineCells): LineInfo {
  const g = s.geo;
  const dv = g.dirVecs[l.dir];
  return {
    direction: g.isHex ? { x: dv.x, y: dv.y, z: dv.z } : { x: dv.x, y: dv.y },
    length: l.cells.length,
    player: l.player,
    positions: l.cells.map((c) => g.pos(c)),
  };
}

export function territoryInfo(s: GameState, r: RegionCells): Territory {
  return {
    controllingPlayer: r.controllingPlayer,
    isDisconnected: true,
    spaces: r.cells.map((c) => s.geo.pos(c)),
  };
}

export const ORIGIN: Position = { x: 0, y: 0 };

export function bookkeeping(type: MoveType, player: number): Move {
  return { player, to: { x: 0, y: 0 }, type };
}

export { type Geometry };
