// Reference fingerprint of a state and its hash.
import { hashFingerprint } from './hash';
import type { GameState } from './state';

function sortStr(a: string[]): string[] {
  return a.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

export function fingerprint(s: GameState): string {
  const done = s.status !== 'active';
  const meta = done
    ? `0:game_over:${s.status}:${s.pendingLineReward ? 1 : 0}`
    : `${s.currentPlayer}:${s.phase}:${s.status}:${s.pendingLineReward ? 1 : 0}`;
  const players: string[] = [];
  for (let p = 1; p <= s.numPlayers; p++) players.push(`${p}:${s.ringsInHand[p]}:${s.eliminated[p]}:${s.territory[p]}`);
  const stacks: string[] = [];
  const markers: string[] = [];
  const coll: string[] = [];
  const keys = s.geo.keys;
  for (let i = 0; i < s.geo.n; i++) {
    if (s.height[i]) stacks.push(`${keys[i]}:${s.ctrl[i]}:${s.height[i]}:${s.cap[i]}`);
    if (s.marker[i]) markers.push(`${keys[i]}:${s.marker[i]}`);
    if (s.collapsed[i]) coll.push(`${keys[i]}:${s.collapsed[i]}`);
  }
  return [meta, sortStr(players).join('|'), sortStr(stacks).join('|'), sortStr(markers).join('|'), sortStr(coll).join('|')].join('#');
}

export function hashState(s: GameState): string {
  return hashFingerprint(fingerprint(s));
}
