import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';

import {
  GAME_REPLAY_SCHEMA_VERSION,
  GameConfigMismatchError,
  DuplicateGameError,
  GameRecord,
  closeGameDb,
  countGames,
  fileSha256,
  fileSha256Sync,
  iterateGames,
  journalMode,
  listGameIds,
  mergeShardDbs,
  openGameDb,
  readGame,
  schemaVersion,
  setParity,
  writeGame,
} from '../../store/gameDb';

function tmpDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-gamedb-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function makeGame(gameId: string, nMoves = 4, overrides: Partial<GameRecord> = {}): GameRecord {
  const moves = [];
  const steps = [];
  for (let i = 0; i < nMoves; i++) {
    const player = (i % 2) + 1;
    moves.push({
      id: `${gameId}-m${i}`,
      type: i === 0 ? 'place_ring' : 'move_stack',
      player,
      from: i === 0 ? undefined : { x: i, y: 0 },
      to: { x: i, y: 1 },
      moveNumber: i + 1,
      timestamp: `2026-01-01T00:00:0${i}.000Z`,
      thinkTime: 10 * i,
    });
    steps.push({
      hashBefore: `h${i.toString(16).padStart(15, '0')}`,
      hashAfter: `h${(i + 1).toString(16).padStart(15, '0')}`,
      phaseBefore: i === 0 ? 'ring_placement' : 'movement',
      phaseAfter: 'movement',
      playerBefore: player,
      playerAfter: (player % 2) + 1,
    });
  }
  return {
    gameId,
    boardType: 'square8',
    numPlayers: 2,
    seed: 12345,
    players: [
      { seat: 1, playerType: 'ai', spec: 'mcts:sims=64', aiType: 'mcts' },
      { seat: 2, playerType: 'ai', spec: 'heuristic:v1', aiType: 'heuristic', aiDifficulty: 5 },
    ],
    initialState: { id: gameId, boardType: 'square8', currentPlayer: 1, currentPhase: 'ring_placement', players: [] },
    moves,
    steps,
    winner: 1,
    terminationReason: 'ring_elimination',
    source: 'self_play',
    engineMode: 'mcts',
    createdAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

test('fresh DB: WAL mode, schema version recorded like GameReplayDB, config in metadata', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'g.db');
  assert.throws(() => openGameDb(file, { boardType: 'square8', numPlayers: 2 }), /does not exist/);
  const db = openGameDb(file, { boardType: 'square8', numPlayers: 2, create: true });
  assert.equal(journalMode(db), 'wal');
  assert.equal(schemaVersion(db), GAME_REPLAY_SCHEMA_VERSION);
  closeGameDb(db);

  const raw = new Database(file, { readonly: true });
  try {
    const meta = Object.fromEntries(
      (raw.prepare('SELECT key, value FROM schema_metadata').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]),
    );
    assert.equal(meta['schema_version'], String(GAME_REPLAY_SCHEMA_VERSION));
    assert.equal(meta['pipeline_board_type'], 'square8');
    assert.equal(meta['pipeline_num_players'], '2');
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    const cols = (table: string) =>
      raw.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string; type: string; notnull: number }>;
    const games = cols('games');
    for (const c of [
      'game_id',
      'board_type',
      'num_players',
      'rng_seed',
      'winner',
      'termination_reason',
      'total_moves',
      'source',
      'engine_mode',
      'parity_status',
      'parity_checked_at',
      'parity_divergence_move',
      'created_at',
      'game_status',
      'total_turns',
      'schema_version',
    ]) {
      assert.ok(
        games.some((g) => g.name === c),
        `games.${c} missing`,
      );
    }
    assert.equal(games.find((g) => g.name === 'parity_divergence_move')?.type, 'INTEGER');
    assert.equal(games.find((g) => g.name === 'game_status')?.notnull, 1);
    const hist = cols('game_history_entries').map((c) => c.name);
    for (const c of ['state_hash_before', 'state_hash_after', 'phase_before', 'phase_after', 'player', 'status_before', 'status_after']) {
      assert.ok(hist.includes(c), `game_history_entries.${c} missing`);
    }
    const tables = (raw.prepare("SELECT name FROM sqlite_master WHERE type='table'").all() as Array<{ name: string }>).map((r) => r.name);
    for (const tname of [
      'games',
      'game_players',
      'game_initial_state',
      'game_moves',
      'game_history_entries',
      'game_state_snapshots',
      'game_choices',
    ]) {
      assert.ok(tables.includes(tname), `table ${tname} missing`);
    }
  } finally {
    raw.close();
  }
});

test('writeGame/readGame round-trip preserves moves, hashes, phases, players, parity', (t) => {
  const dir = tmpDir(t);
  const db = openGameDb(path.join(dir, 'g.db'), { boardType: 'square8', numPlayers: 2, create: true });
  t.after(() => closeGameDb(db));
  const rec = makeGame('game-a', 5, { metadata: { note: 'x' }, seed: 2n ** 60n + 7n });
  assert.deepEqual(writeGame(db, rec), { written: true });
  assert.equal(countGames(db), 1);
  assert.deepEqual(listGameIds(db), ['game-a']);

  const back = readGame(db, 'game-a');
  assert.ok(back);
  assert.equal(back.seed, 2n ** 60n + 7n);
  assert.deepEqual(back.moves, JSON.parse(JSON.stringify(rec.moves)));
  assert.deepEqual(
    back.steps.map((s) => [s.hashBefore, s.hashAfter, s.phaseBefore, s.phaseAfter, s.playerBefore, s.playerAfter]),
    rec.steps.map((s) => [s.hashBefore, s.hashAfter, s.phaseBefore, s.phaseAfter, s.playerBefore, s.playerAfter]),
  );
  assert.equal(back.steps[4].statusAfter, 'completed');
  assert.equal(back.steps[0].statusBefore, 'active');
  assert.deepEqual(back.initialState, rec.initialState);
  assert.deepEqual(
    back.players.map((p) => [p.seat, p.playerType, p.spec, p.aiType]),
    [
      [1, 'ai', 'mcts:sims=64', 'mcts'],
      [2, 'ai', 'heuristic:v1', 'heuristic'],
    ],
  );
  assert.equal(back.winner, 1);
  assert.equal(back.terminationReason, 'ring_elimination');
  assert.equal(back.source, 'self_play');
  assert.equal(back.engineMode, 'mcts');
  assert.equal(back.createdAt, rec.createdAt);
  assert.equal(back.gameStatus, 'completed');
  assert.equal(back.totalMoves, 5);
  assert.equal(back.totalTurns, 5); // players alternate every move
  assert.deepEqual(back.metadata, { note: 'x' });
  assert.deepEqual(back.parity, { status: 'pending', checkedAt: null, divergenceMove: null });

  // Raw rows look like GameReplayDB rows.
  const mv = db.sqlite.prepare('SELECT * FROM game_moves WHERE game_id = ? AND move_number = 1').get('game-a') as Record<string, unknown>;
  assert.equal(mv['move_type'], 'move_stack');
  assert.equal(mv['player'], 2);
  assert.equal(mv['phase'], 'movement');
  assert.equal(mv['turn_number'], 1);
  assert.equal(mv['timestamp'], '2026-01-01T00:00:01.000Z');
  assert.equal(mv['think_time_ms'], 10);
  assert.deepEqual(JSON.parse(String(mv['move_json'])), JSON.parse(JSON.stringify(rec.moves[1])));
  const g = db.sqlite.prepare('SELECT schema_version, rng_seed FROM games').safeIntegers(true).get() as Record<string, bigint>;
  assert.equal(g['schema_version'], BigInt(GAME_REPLAY_SCHEMA_VERSION));
  assert.equal(g['rng_seed'], 2n ** 60n + 7n);

  setParity(db, 'game-a', { status: 'failed', checkedAt: '2026-01-02T00:00:00Z', divergenceMove: 3 });
  assert.deepEqual(readGame(db, 'game-a')?.parity, { status: 'failed', checkedAt: '2026-01-02T00:00:00Z', divergenceMove: 3 });
  assert.throws(() => setParity(db, 'nope', { status: 'passed', checkedAt: null, divergenceMove: null }), /not found/);
  assert.equal(readGame(db, 'nope'), undefined);
});

test('a failing write leaves no partial game behind', (t) => {
  const dir = tmpDir(t);
  const db = openGameDb(path.join(dir, 'g.db'), { boardType: 'square8', numPlayers: 2, create: true });
  t.after(() => closeGameDb(db));
  const rec = makeGame('game-bad', 6);
  // JSON.stringify throws on BigInt: fails mid-transaction, after the games row and earlier moves.
  rec.moves[4] = { ...rec.moves[4], weird: 1n };
  assert.throws(() => writeGame(db, rec), /BigInt/);
  for (const table of ['games', 'game_players', 'game_initial_state', 'game_moves', 'game_history_entries']) {
    const n = (db.sqlite.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    assert.equal(n, 0, `${table} has leftovers`);
  }
  // A missing move type also aborts the whole game.
  const rec2 = makeGame('game-bad2', 3);
  delete (rec2.moves[2] as Record<string, unknown>)['type'];
  assert.throws(() => writeGame(db, rec2), /no string 'type'/);
  assert.equal(countGames(db), 0);
  // And the DB still accepts good games afterwards.
  writeGame(db, makeGame('game-ok'));
  assert.equal(countGames(db), 1);
});

test('duplicate game id is an error unless ifExists: skip', (t) => {
  const dir = tmpDir(t);
  const db = openGameDb(path.join(dir, 'g.db'), { boardType: 'square8', numPlayers: 2, create: true });
  t.after(() => closeGameDb(db));
  writeGame(db, makeGame('dup', 2));
  assert.throws(
    () => writeGame(db, makeGame('dup', 3)),
    (e: unknown) => e instanceof DuplicateGameError && /already exists/.test(e.message),
  );
  assert.deepEqual(writeGame(db, makeGame('dup', 3), { ifExists: 'skip' }), { written: false });
  assert.equal(readGame(db, 'dup')?.moves.length, 2, 'original kept');
});

test('wrong board / player count is refused with a clear message', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'sq8.db');
  const db = openGameDb(file, { boardType: 'square8', numPlayers: 2, create: true });
  // Record for another config.
  assert.throws(() => writeGame(db, makeGame('x', 2, { numPlayers: 3 })), GameConfigMismatchError);
  closeGameDb(db);

  // Empty DB still knows its config.
  assert.throws(
    () => openGameDb(file, { boardType: 'hexagonal', numPlayers: 2 }),
    (e: unknown) =>
      e instanceof GameConfigMismatchError &&
      e.message.includes(file) &&
      e.message.includes('square8/2p') &&
      e.message.includes('hexagonal/2p'),
  );
  assert.throws(() => openGameDb(file, { boardType: 'square8', numPlayers: 4 }), /square8\/4p/);

  // A foreign GameReplayDB-style file without our metadata keys: judged by the games it holds.
  const foreign = path.join(dir, 'foreign.db');
  const raw = new Database(foreign);
  raw.exec(`CREATE TABLE games (game_id TEXT PRIMARY KEY, board_type TEXT NOT NULL, num_players INTEGER NOT NULL,
    created_at TEXT NOT NULL, game_status TEXT NOT NULL, total_moves INTEGER NOT NULL, total_turns INTEGER NOT NULL,
    schema_version INTEGER NOT NULL)`);
  raw.prepare("INSERT INTO games VALUES ('f1', 'hex8', 3, '2026', 'completed', 1, 1, 9)").run();
  raw.close();
  assert.throws(
    () => openGameDb(foreign, { boardType: 'square8', numPlayers: 2 }),
    (e: unknown) => e instanceof GameConfigMismatchError && /holds 1 hex8\/3p game/.test(e.message) && e.message.includes(foreign),
  );
});

test('iterateGames filters by parity status', (t) => {
  const dir = tmpDir(t);
  const db = openGameDb(path.join(dir, 'g.db'), { boardType: 'square8', numPlayers: 2, create: true });
  t.after(() => closeGameDb(db));
  for (const id of ['a', 'b', 'c']) writeGame(db, makeGame(id, 2));
  setParity(db, 'b', { status: 'passed', checkedAt: '2026-01-02T00:00:00Z', divergenceMove: null });
  assert.deepEqual(
    [...iterateGames(db)].map((g) => g.gameId),
    ['a', 'b', 'c'],
  );
  assert.deepEqual(
    [...iterateGames(db, { parityStatus: 'passed' })].map((g) => g.gameId),
    ['b'],
  );
  assert.deepEqual(
    [...iterateGames(db, { parityStatus: ['pending'] })].map((g) => g.gameId),
    ['a', 'c'],
  );
  assert.equal(countGames(db, { parityStatus: 'failed' }), 0);
});

function writeShard(file: string, ids: string[]): void {
  const db = openGameDb(file, { boardType: 'square8', numPlayers: 2, create: true });
  try {
    for (const id of ids) writeGame(db, makeGame(id, 3));
  } finally {
    closeGameDb(db);
  }
}

test('mergeShardDbs merges atomically, refuses overwrite, appends atomically, handles duplicates', (t) => {
  const dir = tmpDir(t);
  const s1 = path.join(dir, 's1.db');
  const s2 = path.join(dir, 's2.db');
  const s3 = path.join(dir, 's3.db');
  writeShard(s1, ['g1', 'g2']);
  writeShard(s2, ['g3']);
  writeShard(s3, ['g2', 'g4']); // g2 repeats s1
  const out = path.join(dir, 'merged.db');

  const r = mergeShardDbs([s1, s2], out, { boardType: 'square8', numPlayers: 2 });
  assert.deepEqual(r, { outputPath: out, gamesAdded: 3, duplicatesSkipped: 0, totalGames: 3 });
  const check = (ids: string[]) => {
    const db = openGameDb(out, { boardType: 'square8', numPlayers: 2, readonly: true });
    try {
      assert.deepEqual(listGameIds(db).sort(), ids);
      for (const id of ids) assert.equal(readGame(db, id)?.moves.length, 3);
    } finally {
      closeGameDb(db);
    }
  };
  check(['g1', 'g2', 'g3']);
  const leftovers = () => fs.readdirSync(dir).filter((f) => f.includes('.tmp-'));
  assert.deepEqual(leftovers(), []);

  // Refuse to overwrite.
  const before = fs.readFileSync(out);
  assert.throws(() => mergeShardDbs([s3], out, { boardType: 'square8', numPlayers: 2 }), /already exists/);

  // Append with a duplicate: default is an error, output untouched, temp removed.
  assert.throws(
    () => mergeShardDbs([s3], out, { boardType: 'square8', numPlayers: 2, append: true }),
    (e: unknown) => e instanceof DuplicateGameError && e.gameIds.includes('g2'),
  );
  assert.deepEqual(fs.readFileSync(out), before);
  assert.deepEqual(leftovers(), []);
  check(['g1', 'g2', 'g3']);

  // keep-first: existing g2 stays, g4 is added.
  const r2 = mergeShardDbs([s3], out, { boardType: 'square8', numPlayers: 2, append: true, duplicates: 'keep-first' });
  assert.deepEqual(r2, { outputPath: out, gamesAdded: 1, duplicatesSkipped: 1, totalGames: 4 });
  check(['g1', 'g2', 'g3', 'g4']);
  assert.deepEqual(leftovers(), []);

  // Duplicate across shards within one merge.
  const out2 = path.join(dir, 'merged2.db');
  assert.throws(() => mergeShardDbs([s1, s3], out2, { boardType: 'square8', numPlayers: 2 }), DuplicateGameError);
  assert.equal(fs.existsSync(out2), false, 'no output after a failed merge');
  assert.deepEqual(leftovers(), []);
});

test('mergeShardDbs refuses shards of another configuration and leaves no output', (t) => {
  const dir = tmpDir(t);
  const s1 = path.join(dir, 's1.db');
  writeShard(s1, ['g1']);
  const hex = path.join(dir, 'hex.db');
  closeGameDb(openGameDb(hex, { boardType: 'hexagonal', numPlayers: 2, create: true }));
  const out = path.join(dir, 'm.db');
  assert.throws(
    () => mergeShardDbs([s1, hex], out, { boardType: 'square8', numPlayers: 2 }),
    (e: unknown) => e instanceof GameConfigMismatchError && e.message.includes(hex),
  );
  assert.equal(fs.existsSync(out), false);
});

test('fileSha256 matches node crypto over the file bytes', async (t) => {
  const dir = tmpDir(t);
  const f = path.join(dir, 'blob.bin');
  const bytes = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
  fs.writeFileSync(f, bytes);
  const expected = createHash('sha256').update(bytes).digest('hex');
  assert.equal(await fileSha256(f), expected);
  assert.equal(fileSha256Sync(f), expected);
  await assert.rejects(fileSha256(path.join(dir, 'missing')), /ENOENT/);
});

test('Python sqlite3 reads our WAL file the way GameReplayDB tools do', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'py.db');
  const db = openGameDb(file, { boardType: 'square8', numPlayers: 2, create: true });
  writeGame(db, makeGame('p1', 3));
  writeGame(db, makeGame('p2', 2, { winner: null, terminationReason: 'draw' }));
  setParity(db, 'p2', { status: 'passed', checkedAt: '2026-01-03T00:00:00Z', divergenceMove: null });
  // Keep the connection open: the reader must see committed data through the WAL.
  t.after(() => closeGameDb(db));

  const python = path.resolve(__dirname, '../../.venv/bin/python');
  const script = `
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.row_factory = sqlite3.Row
version = int(conn.execute("SELECT value FROM schema_metadata WHERE key = 'schema_version'").fetchone()["value"])
games = conn.execute(
    "SELECT * FROM games WHERE board_type = ? AND num_players = ? ORDER BY game_id", ("square8", 2)
).fetchall()
out = {"version": version, "journal": conn.execute("PRAGMA journal_mode").fetchone()[0], "games": []}
for g in games:
    init = json.loads(conn.execute("SELECT initial_state_json FROM game_initial_state WHERE game_id = ?", (g["game_id"],)).fetchone()[0])
    moves = conn.execute("SELECT * FROM game_moves WHERE game_id = ? ORDER BY move_number", (g["game_id"],)).fetchall()
    hist = conn.execute("SELECT * FROM game_history_entries WHERE game_id = ? ORDER BY move_number", (g["game_id"],)).fetchall()
    players = conn.execute("SELECT player_number, player_type FROM game_players WHERE game_id = ? ORDER BY player_number", (g["game_id"],)).fetchall()
    out["games"].append({
        "id": g["game_id"], "status": g["game_status"], "total_moves": g["total_moves"], "winner": g["winner"],
        "termination": g["termination_reason"], "parity": g["parity_status"], "schema_version": g["schema_version"],
        "init_board": init["boardType"],
        "types_match": all(json.loads(m["move_json"])["type"] == m["move_type"] for m in moves),
        "move_numbers": [m["move_number"] for m in moves],
        "hashes": [[h["state_hash_before"], h["state_hash_after"]] for h in hist],
        "players": [[p["player_number"], p["player_type"]] for p in players],
    })
print(json.dumps(out))
`;
  const res = spawnSync(python, ['-c', script, file], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  const out = JSON.parse(res.stdout) as {
    version: number;
    journal: string;
    games: Array<Record<string, unknown>>;
  };
  assert.equal(out.version, GAME_REPLAY_SCHEMA_VERSION);
  assert.equal(out.journal, 'wal');
  assert.equal(out.games.length, 2);
  const [g1, g2] = out.games;
  assert.deepEqual(
    [g1.id, g1.status, g1.total_moves, g1.winner, g1.termination, g1.parity, g1.schema_version, g1.init_board, g1.types_match],
    ['p1', 'completed', 3, 1, 'ring_elimination', 'pending', GAME_REPLAY_SCHEMA_VERSION, 'square8', true],
  );
  assert.deepEqual(g1.move_numbers, [0, 1, 2]);
  assert.deepEqual(
    g1.hashes,
    makeGame('p1', 3).steps.map((s) => [s.hashBefore, s.hashAfter]),
  );
  assert.deepEqual(g1.players, [
    [1, 'ai'],
    [2, 'ai'],
  ]);
  assert.deepEqual([g2.id, g2.winner, g2.termination, g2.parity], ['p2', null, 'draw', 'passed']);
});

test('opening a file that is not a game DB names the file', (t) => {
  const dir = tmpDir(t);
  const junk = path.join(dir, 'junk.db');
  fs.writeFileSync(junk, 'this is not sqlite at all, just some text that is long enough to look like a header');
  assert.throws(
    () => openGameDb(junk, { boardType: 'square8', numPlayers: 2 }),
    (e: unknown) => e instanceof Error && e.message.includes(junk) && /not a database/.test(e.message),
  );
  const other = path.join(dir, 'other.db');
  const raw = new Database(other);
  raw.exec('CREATE TABLE things (x INTEGER)');
  raw.close();
  assert.throws(() => openGameDb(other, { boardType: 'square8', numPlayers: 2, create: true }), /is not a game DB \(tables: things\)/);
});
