// Board geometry: cell indexing, neighbour and ray tables per board type.
// Cells are indexed in the reference's "valid positions" order:
//   square boards: x outer, y inner (index = x * size + y)
//   hex boards:    q (=x) outer from -R..R, r (=y) inner.
import type { BoardType, Position } from './types';

export interface Geometry {
  readonly boardType: BoardType;
  readonly isHex: boolean;
  readonly size: number;
  readonly radius: number;
  readonly n: number;
  readonly xs: Int32Array;
  readonly ys: Int32Array;
  readonly zs: Int32Array;
  /** fingerprint cell key: "x,y" or "x,y,z" */
  readonly keys: string[];
  /** canonical JSON of the position ({"x":..,"y":..[,"z":..]}) */
  readonly posKeys: string[];
  /** movement directions count (8 square, 6 hex) */
  readonly D: number;
  readonly dirVecs: Position[];
  /** step[i * D + d] = neighbour index in direction d or -1 */
  readonly step: Int32Array;
  /** indices (into dirVecs) of the line-detection directions, reference order */
  readonly lineDirs: number[];
  /** opposite direction index */
  readonly opp: Int32Array;
  /** territory adjacency neighbours (reference order) */
  readonly terrNbrs: Int32Array[];
  /** flat territory neighbour table: terrFlat[i * terrStride + k], -1 padded */
  readonly terrFlat: Int32Array;
  readonly terrStride: number;
  /** (x, y) Moore neighbours (on hex boards: the 8 (dx, dy) offsets that stay on the board) */
  readonly mooreNbrs: Int32Array[];
  readonly totalSpaces: number;
  readonly ringsPerPlayer: number;
  indexOf(p: Position): number;
  /** a fresh position object for cell i */
  pos(i: number): Position;
  /** the shared, frozen position object for cell i (used inside generated moves) */
  posShared(i: number): Position;
}

const BOARD_PARAMS: Record<BoardType, { size: number; rings: number; hex: boolean }> = {
  square8: { size: 8, rings: 18, hex: false },
  square19: { size: 19, rings: 72, hex: false },
  hex8: { size: 5, rings: 18, hex: true }, // radius 4
  hexagonal: { size: 13, rings: 96, hex: true }, // radius 12
};

const SQUARE_DIRS: Position[] = [
  { x: 1, y: 0 },
  { x: 1, y: 1 },
  { x: 0, y: 1 },
  { x: 1, y: -1 },
  { x: -1, y: 0 },
  { x: -1, y: -1 },
  { x: 0, y: -1 },
  { x: -1, y: 1 },
];
const HEX_DIRS: Position[] = [
  { x: 1, y: 0, z: -1 },
  { x: 1, y: -1, z: 0 },
  { x: 0, y: -1, z: 1 },
  { x: -1, y: 0, z: 1 },
  { x: -1, y: 1, z: 0 },
  { x: 0, y: 1, z: -1 },
];
const VN_DIRS: Position[] = [
  { x: 0, y: 1 },
  { x: 1, y: 0 },
  { x: 0, y: -1 },
  { x: -1, y: 0 },
];

const cache = new Map<BoardType, Geometry>();

export function isBoardType(s: unknown): s is BoardType {
  return s === 'square8' || s === 'square19' || s === 'hex8' || s === 'hexagonal';
}

export function getGeometry(boardType: BoardType): Geometry {
  const hit = cache.get(boardType);
  if (hit) return hit;
  const prm = BOARD_PARAMS[boardType];
  if (!prm) throw new Error(`unknown board type ${String(boardType)}`);
  const xs: number[] = [];
  const ys: number[] = [];
  const zs: number[] = [];
  let radius = 0;
  let lookupW = 0;
  let lookup: Int32Array;
  if (prm.hex) {
    radius = prm.size - 1 === 4 ? 4 : 12;
    const R = radius;
    lookupW = 2 * R + 1;
    lookup = new Int32Array(lookupW * lookupW).fill(-1);
    for (let q = -R; q <= R; q++) {
      const r1 = Math.max(-R, -q - R);
      const r2 = Math.min(R, -q + R);
      for (let r = r1; r <= r2; r++) {
        lookup[(q + R) * lookupW + (r + R)] = xs.length;
        xs.push(q);
        ys.push(r);
        zs.push(0 - q - r); // not -q - r: no -0 at the centre
      }
    }
  } else {
    lookupW = prm.size;
    lookup = new Int32Array(prm.size * prm.size).fill(-1);
    for (let x = 0; x < prm.size; x++)
      for (let y = 0; y < prm.size; y++) {
        lookup[x * prm.size + y] = xs.length;
        xs.push(x);
        ys.push(y);
        zs.push(0);
      }
  }
  const n = xs.length;
  const R = radius;
  const size = prm.size;
  const idxXY = (x: number, y: number): number => {
    if (prm.hex) {
      const z = -x - y;
      if (Math.abs(x) > R || Math.abs(y) > R || Math.abs(z) > R) return -1;
      return lookup[(x + R) * lookupW + (y + R)];
    }
    if (x < 0 || y < 0 || x >= size || y >= size) return -1;
    return lookup[x * size + y];
  };
  const dirVecs = prm.hex ? HEX_DIRS : SQUARE_DIRS;
  const D = dirVecs.length;
  const step = new Int32Array(n * D);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) step[i * D + d] = idxXY(xs[i] + dirVecs[d].x, ys[i] + dirVecs[d].y);
  const opp = new Int32Array(D);
  for (let d = 0; d < D; d++) opp[d] = dirVecs.findIndex((v) => v.x === -dirVecs[d].x && v.y === -dirVecs[d].y);
  const lineDirs = prm.hex ? [0, 1, 2] : [0, 1, 2, 3];
  const terrNbrs: Int32Array[] = [];
  const mooreNbrs: Int32Array[] = [];
  for (let i = 0; i < n; i++) {
    const t: number[] = [];
    for (const v of prm.hex ? HEX_DIRS : VN_DIRS) {
      const j = idxXY(xs[i] + v.x, ys[i] + v.y);
      if (j >= 0) t.push(j);
    }
    terrNbrs.push(Int32Array.from(t));
    // (x, y) Moore deltas; on hex boards z is derived (the reference's border-marker expansion uses this)
    const m: number[] = [];
    {
      for (let dx = -1; dx <= 1; dx++)
        for (let dy = -1; dy <= 1; dy++) {
          if (dx === 0 && dy === 0) continue;
          const j = idxXY(xs[i] + dx, ys[i] + dy);
          if (j >= 0) m.push(j);
        }
    }
    mooreNbrs.push(Int32Array.from(m));
  }
  const terrStride = prm.hex ? 6 : 4;
  const terrFlat = new Int32Array(n * terrStride).fill(-1);
  for (let i = 0; i < n; i++) for (let k = 0; k < terrNbrs[i].length; k++) terrFlat[i * terrStride + k] = terrNbrs[i][k];
  const keys: string[] = [];
  const posKeys: string[] = [];
  const positions: Position[] = [];
  for (let i = 0; i < n; i++) {
    if (prm.hex) {
      keys.push(`${xs[i]},${ys[i]},${zs[i]}`);
      posKeys.push(`{"x":${xs[i]},"y":${ys[i]},"z":${zs[i]}}`);
      positions.push(Object.freeze({ x: xs[i], y: ys[i], z: zs[i] }));
    } else {
      keys.push(`${xs[i]},${ys[i]}`);
      posKeys.push(`{"x":${xs[i]},"y":${ys[i]}}`);
      positions.push(Object.freeze({ x: xs[i], y: ys[i] }));
    }
  }
  const geo: Geometry = {
    boardType,
    isHex: prm.hex,
    size: prm.hex ? radius + 1 : size,
    radius,
    n,
    xs: Int32Array.from(xs),
    ys: Int32Array.from(ys),
    zs: Int32Array.from(zs),
    keys,
    posKeys,
    D,
    dirVecs,
    step,
    lineDirs,
    opp,
    terrNbrs,
    terrFlat,
    terrStride,
    mooreNbrs,
    totalSpaces: n,
    ringsPerPlayer: prm.rings,
    indexOf(p: Position): number {
      if (!p || typeof p.x !== 'number' || typeof p.y !== 'number') return -1;
      if (prm.hex && p.z !== undefined && p.z !== -p.x - p.y) return -1;
      return idxXY(p.x, p.y);
    },
    posShared(i: number): Position {
      return positions[i];
    },
    pos(i: number): Position {
      const p = positions[i];
      return prm.hex ? { x: p.x, y: p.y, z: p.z } : { x: p.x, y: p.y };
    },
  };
  cache.set(boardType, geo);
  return geo;
}
