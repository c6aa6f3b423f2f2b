// Fast canonical keys for moves in the reference shape (falls back to generic canonical JSON).
import { canonicalJson } from './hash';
import type { LineInfo, Move, Position, Territory } from './types';

const KNOWN = new Set([
  'captureTarget',
  'collapsePositions',
  'collapsedMarkers',
  'disconnectedRegions',
  'eliminatedRings',
  'eliminationContext',
  'eliminationFromStack',
  'extractionStacks',
  'formedLines',
  'from',
  'option',
  'player',
  'recoveryMode',
  'to',
  'type',
]);

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function pk(p: Position): string {
  if (!p || !isInt(p.x) || !isInt(p.y)) throw new Error('bad position');
  const keys = Object.keys(p);
  if (p.z === undefined) {
    if (keys.length !== 2 && !(keys.length === 3 && 'z' in p)) throw new Error('extra position keys');
    return '{"x":' + p.x + ',"y":' + p.y + '}';
  }
  if (!isInt(p.z) || keys.length !== 3) throw new Error('bad position');
  return '{"x":' + p.x + ',"y":' + p.y + ',"z":' + p.z + '}';
}

function pl(ps: Position[]): string {
  let s = '[';
  for (let i = 0; i < ps.length; i++) s += (i ? ',' : '') + pk(ps[i]);
  return s + ']';
}

function lineKey(l: LineInfo): string {
  if (Object.keys(l).length !== 4) throw new Error('line shape');
  return '{"direction":' + pk(l.direction) + ',"length":' + l.length + ',"player":' + l.player + ',"positions":' + pl(l.positions) + '}';
}

function regionKey(r: Territory): string {
  if (Object.keys(r).length !== 3 || typeof r.isDisconnected !== 'boolean') throw new Error('region shape');
  return '{"controllingPlayer":' + r.controllingPlayer + ',"isDisconnected":' + r.isDisconnected + ',"spaces":' + pl(r.spaces) + '}';
}

function build(m: Move): string {
  for (const k in m) {
    if (!KNOWN.has(k)) {
      if ((m as unknown as Record<string, unknown>)[k] === undefined) continue;
      throw new Error('unknown field');
    }
  }
  let s = '{';
  if (m.captureTarget !== undefined) s += '"captureTarget":' + pk(m.captureTarget) + ',';
  if (m.collapsePositions !== undefined) s += '"collapsePositions":' + pl(m.collapsePositions) + ',';
  if (m.collapsedMarkers !== undefined) s += '"collapsedMarkers":' + pl(m.collapsedMarkers) + ',';
  if (m.disconnectedRegions !== undefined) {
    s += '"disconnectedRegions":[';
    for (let i = 0; i < m.disconnectedRegions.length; i++) s += (i ? ',' : '') + regionKey(m.disconnectedRegions[i]);
    s += '],';
  }
  if (m.eliminatedRings !== undefined) {
    s += '"eliminatedRings":[';
    for (let i = 0; i < m.eliminatedRings.length; i++) {
      const e = m.eliminatedRings[i];
      if (Object.keys(e).length !== 2) throw new Error('elim shape');
      s += (i ? ',' : '') + '{"count":' + e.count + ',"player":' + e.player + '}';
    }
    s += '],';
  }
  if (m.eliminationContext !== undefined) s += '"eliminationContext":' + JSON.stringify(m.eliminationContext) + ',';
  if (m.eliminationFromStack !== undefined) {
    const e = m.eliminationFromStack;
    if (Object.keys(e).length !== 3) throw new Error('efs shape');
    s += '"eliminationFromStack":{"capHeight":' + e.capHeight + ',"position":' + pk(e.position) + ',"totalHeight":' + e.totalHeight + '},';
  }
  if (m.extractionStacks !== undefined) s += '"extractionStacks":' + canonicalJson(m.extractionStacks) + ',';
  if (m.formedLines !== undefined) {
    s += '"formedLines":[';
    for (let i = 0; i < m.formedLines.length; i++) s += (i ? ',' : '') + lineKey(m.formedLines[i]);
    s += '],';
  }
  if (m.from !== undefined) s += '"from":' + pk(m.from) + ',';
  if (m.option !== undefined) s += '"option":' + JSON.stringify(m.option) + ',';
  s += '"player":' + JSON.stringify(m.player) + ',';
  if (m.recoveryMode !== undefined) s += '"recoveryMode":' + JSON.stringify(m.recoveryMode) + ',';
  s += '"to":' + pk(m.to) + ',"type":' + JSON.stringify(m.type) + '}';
  return s;
}

/** Canonical key of a move (identical to canonicalJson of the move without id/timestamp/...). */
export function fastMoveKey(m: Move): string {
  try {
    return build(m);
  } catch {
    const rest: Record<string, unknown> = { ...(m as unknown as Record<string, unknown>) };
    delete rest.id;
    delete rest.timestamp;
    delete rest.thinkTime;
    delete rest.moveNumber;
    return canonicalJson(rest);
  }
}
