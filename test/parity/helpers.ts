// Test helpers: build small game DBs by playing seeded random games with our engine.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { applyMoveTrusted, createInitialState, fingerprint, hashState, playRandomGame, type BoardType, type Move } from '../../engine';
import { closeGameDb, openGameDb, writeGame, type GameRecord, type MoveStep } from '../../store/gameDb';

export function tmpDir(t: { after: (fn: () => void) => void }, prefix = 'rr-parity-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A stored-game record for a seeded random game (hashes computed with our engine). */
export function randomGameRecord(boardType: BoardType, numPlayers: number, seed: number, maxMoves = 3000): GameRecord {
  const rulesOptions = numPlayers === 2 ? { swapRuleEnabled: true } : {};
  const played = playRandomGame({ boardType, numPlayers, seed, maxMoves, rulesOptions });
  const s = createInitialState({ boardType, numPlayers, seed, rulesOptions });
  const init = { fingerprint: fingerprint(s), hash: hashState(s) };
  const steps: MoveStep[] = [];
  let h = init.hash;
  for (const m of played.moves) {
    const phaseBefore = s.phase;
    const playerBefore = s.currentPlayer;
    applyMoveTrusted(s, m);
    const after = hashState(s);
    steps.push({
      hashBefore: h,
      hashAfter: after,
      phaseBefore,
      phaseAfter: s.phase,
      playerBefore,
      playerAfter: s.currentPlayer,
      statusBefore: 'active',
      statusAfter: s.status,
    });
    h = after;
  }
  return {
    gameId: `${boardType}-${numPlayers}p-s${seed}`,
    boardType,
    numPlayers,
    seed,
    players: Array.from({ length: numPlayers }, (_, i) => ({ seat: i + 1, playerType: 'ai', spec: 'random', aiType: 'random' })),
    initialState: { boardType, numPlayers, rngSeed: seed, rulesOptions, fingerprint: init.fingerprint, stateHash: init.hash },
    moves: played.moves as unknown as Record<string, unknown>[],
    steps,
    winner: played.truncated ? null : played.result.winner,
    terminationReason: played.truncated ? 'max_moves' : (played.result.victoryReason ?? 'unknown'),
    source: 'test',
    engineMode: 'random_vs_random',
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seed % 60)).toISOString(),
    gameStatus: played.truncated ? 'active' : 'completed',
  };
}

/** Create `file` holding `count` random games (seeds seed0, seed0+1, …). */
export function buildDb(file: string, boardType: BoardType, numPlayers: number, count: number, seed0 = 1, maxMoves = 3000): string[] {
  const db = openGameDb(file, { boardType, numPlayers, create: true });
  const ids: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const rec = randomGameRecord(boardType, numPlayers, seed0 + i, maxMoves);
      writeGame(db, rec);
      ids.push(rec.gameId);
    }
  } finally {
    closeGameDb(db);
  }
  return ids;
}

export type { Move };
