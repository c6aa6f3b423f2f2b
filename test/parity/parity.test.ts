// Parity validation: clean DBs pass, a tampered copy is flagged exactly where it was tampered,
// samples are seeded and deterministic, the report names game, move and hashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { closeGameDb, openGameDb, readGame } from '../../store/gameDb';
import { buildParityReport, checkGame, formatParityReport, sampleGameIds, selectParityGames, validateGames } from '../../store/parity';
import { buildDb, tmpDir } from './helpers';

const NOW = '2026-11-23T12:00:00.000Z';

test('parity: every game of a clean DB passes (square8 2p, hex8 3p) and the columns are written', (t) => {
  const dir = tmpDir(t);
  for (const [bt, np] of [
    ['square8', 2],
    ['hex8', 3],
  ] as const) {
    const file = path.join(dir, `${bt}.db`);
    const ids = buildDb(file, bt, np, 6, 11);
    const db = openGameDb(file, { boardType: bt, numPlayers: np });
    try {
      const res = validateGames(db, ids, { checkedAt: NOW });
      assert.equal(res.total, 6);
      assert.equal(res.passed, 6, JSON.stringify(res.problems));
      for (const id of ids) {
        const g = readGame(db, id)!;
        assert.deepEqual(g.parity, { status: 'passed', checkedAt: NOW, divergenceMove: null });
      }
    } finally {
      closeGameDb(db);
    }
  }
});

test('parity: truncated games (game_status active) pass when their hashes match', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'trunc.db');
  const ids = buildDb(file, 'square8', 2, 2, 5, 40);
  const db = openGameDb(file, { boardType: 'square8', numPlayers: 2, readonly: true });
  try {
    for (const id of ids) assert.equal(checkGame(readGame(db, id)!).status, 'passed');
  } finally {
    closeGameDb(db);
  }
});

test('tamper test: a corrupted move and a corrupted hash are flagged in exactly those games, naming the move', (t) => {
  const dir = tmpDir(t);
  const clean = path.join(dir, 'clean.db');
  const ids = buildDb(clean, 'square8', 2, 8, 100);
  const copy = path.join(dir, 'tampered.db');
  fs.copyFileSync(clean, copy);

  const raw = new Database(copy);
  // game A: move 30 gets another destination/placement (changes the state or becomes illegal)
  const gameA = ids[2];
  const moveA = 30;
  const row = raw.prepare('SELECT move_json FROM game_moves WHERE game_id = ? AND move_number = ?').get(gameA, moveA) as {
    move_json: string;
  };
  const mv = JSON.parse(row.move_json) as { to: { x: number; y: number }; from?: unknown; type: string };
  mv.to = { x: (mv.to.x + 3) % 8, y: (mv.to.y + 5) % 8 };
  raw.prepare('UPDATE game_moves SET move_json = ? WHERE game_id = ? AND move_number = ?').run(JSON.stringify(mv), gameA, moveA);
  // game B: the stored hash after move 17 is wrong
  const gameB = ids[5];
  const moveB = 17;
  raw
    .prepare("UPDATE game_history_entries SET state_hash_after = '0123456789abcdef' WHERE game_id = ? AND move_number = ?")
    .run(gameB, moveB);
  // game C: an unparseable move (unknown type) at move 3
  const gameC = ids[7];
  raw
    .prepare(`UPDATE game_moves SET move_json = '{"type":"teleport","player":1,"to":{"x":0,"y":0}}' WHERE game_id = ? AND move_number = 3`)
    .run(gameC);
  // game D: move 8 is not even JSON
  const gameD = ids[0];
  raw.prepare(`UPDATE game_moves SET move_json = '{"type":"place_ring",' WHERE game_id = ? AND move_number = 8`).run(gameD);
  raw.close();

  const db = openGameDb(copy, { boardType: 'square8', numPlayers: 2 });
  try {
    const res = validateGames(db, selectParityGames(db), { checkedAt: NOW });
    assert.equal(res.total, 8);
    assert.equal(res.passed, 4);
    const flagged = new Map(res.problems.map((p) => [p.gameId, p]));
    assert.deepEqual([...flagged.keys()].sort(), [gameA, gameB, gameC, gameD].sort());
    assert.equal(flagged.get(gameD)!.divergenceMove, 8);
    assert.equal(flagged.get(gameD)!.reason, 'bad_move');
    assert.equal(flagged.get(gameA)!.divergenceMove, moveA);
    assert.equal(flagged.get(gameA)!.status, 'failed');
    assert.ok(['illegal_move', 'hash_mismatch'].includes(flagged.get(gameA)!.reason!));
    assert.equal(flagged.get(gameB)!.divergenceMove, moveB);
    assert.equal(flagged.get(gameB)!.reason, 'hash_mismatch');
    assert.equal(flagged.get(gameB)!.expectedHash, '0123456789abcdef');
    assert.match(flagged.get(gameB)!.actualHash!, /^[0-9a-f]{16}$/);
    assert.ok(flagged.get(gameB)!.actualFingerprint!.includes('#'));
    assert.ok(flagged.get(gameB)!.lastAgreedFingerprint!.includes('#'));
    assert.equal(flagged.get(gameC)!.divergenceMove, 3);
    assert.equal(flagged.get(gameC)!.reason, 'bad_move');

    // columns as GameReplayDB's tagger writes them
    assert.deepEqual(readGame(db, gameA)!.parity, { status: 'failed', checkedAt: NOW, divergenceMove: moveA });
    assert.deepEqual(readGame(db, gameB)!.parity, { status: 'failed', checkedAt: NOW, divergenceMove: moveB });
    assert.deepEqual(readGame(db, ids[1])!.parity, { status: 'passed', checkedAt: NOW, divergenceMove: null });

    const rep = buildParityReport([res], { db: copy, checkedAt: NOW, failThreshold: 0.01 });
    assert.equal(rep.ok, false);
    assert.equal(rep.failureRate, 4 / 8);
    const text = formatParityReport(rep);
    assert.match(text, new RegExp(`FAILED ${gameB}: move ${moveB}`));
    assert.match(text, /expected hash +0123456789abcdef/);
    assert.match(text, /actual fingerprint/);
    assert.match(text, new RegExp(`FAILED ${gameA}: move ${moveA}`));
    // JSON round trip
    assert.equal(JSON.parse(JSON.stringify(rep)).problems.length, 4);
  } finally {
    closeGameDb(db);
  }
  // the clean original is untouched
  const orig = openGameDb(clean, { boardType: 'square8', numPlayers: 2, readonly: true });
  try {
    assert.equal(readGame(orig, gameA)!.parity.status, 'pending');
  } finally {
    closeGameDb(orig);
  }
});

test('parity: a wrong stored winner or initial hash is flagged; dry run writes nothing', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'w.db');
  const ids = buildDb(file, 'square8', 3, 3, 40);
  const raw = new Database(file);
  raw.prepare('UPDATE games SET winner = CASE WHEN winner = 1 THEN 2 ELSE 1 END WHERE game_id = ?').run(ids[0]);
  const init = raw.prepare('SELECT initial_state_json FROM game_initial_state WHERE game_id = ?').get(ids[1]) as {
    initial_state_json: string;
  };
  const o = JSON.parse(init.initial_state_json) as Record<string, unknown>;
  o['stateHash'] = 'ffffffffffffffff';
  raw.prepare('UPDATE game_initial_state SET initial_state_json = ? WHERE game_id = ?').run(JSON.stringify(o), ids[1]);
  raw.close();
  const db = openGameDb(file, { boardType: 'square8', numPlayers: 3 });
  try {
    const res = validateGames(db, ids, { checkedAt: NOW, write: false });
    const by = new Map(res.problems.map((p) => [p.gameId, p]));
    assert.equal(by.get(ids[0])!.reason, 'result_mismatch');
    assert.equal(by.get(ids[0])!.divergenceMove, readGame(db, ids[0])!.moves.length - 1);
    assert.equal(by.get(ids[1])!.reason, 'initial_state_mismatch');
    assert.equal(by.get(ids[1])!.divergenceMove, 0);
    assert.equal(res.passed, 1);
    for (const id of ids) assert.equal(readGame(db, id)!.parity.status, 'pending', 'dry run writes nothing');
  } finally {
    closeGameDb(db);
  }
});

test('sample: seeded, deterministic, the requested size, in DB order', () => {
  const ids = Array.from({ length: 200 }, (_, i) => `g${String(i).padStart(3, '0')}`);
  const a = sampleGameIds(ids, 20, 7);
  assert.equal(a.length, 20);
  assert.deepEqual(a, sampleGameIds(ids, 20, 7));
  assert.notDeepEqual(a, sampleGameIds(ids, 20, 8));
  assert.deepEqual(a, [...a].sort());
  assert.deepEqual(sampleGameIds(ids, 500, 7), ids);
  // a larger sample with the same seed contains the smaller one
  const b = sampleGameIds(ids, 40, 7);
  for (const x of a) assert.ok(b.includes(x));
});

test('report: threshold decides ok; an empty check is not ok', () => {
  const part = { total: 200, passed: 198, failed: 2, error: 0, problems: [], movesReplayed: 1000 };
  assert.equal(buildParityReport([part], { db: 'x', checkedAt: NOW, failThreshold: 0.01 }).ok, true);
  assert.equal(buildParityReport([part], { db: 'x', checkedAt: NOW, failThreshold: 0.005 }).ok, false);
  assert.equal(buildParityReport([], { db: 'x', checkedAt: NOW, failThreshold: 0.01 }).ok, false);
});
