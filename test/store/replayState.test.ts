// GameReplayDB compatibility of what self-play stores: the initial state is a full RingRift
// GameState (as RingRift's readers expect it), our deserializer reads it back to the stored
// fingerprint and hash, and the other columns RingRift's readers use are filled as they expect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { applyMoveTrusted, createInitialState, fingerprint, hashState, playRandomGame, type BoardType } from '../../engine';
import { playShard, type ShardInput } from '../../activities/selfplay';
import { closeGameDb, openGameDb, readGame } from '../../store/gameDb';
import { initialStateFor, selectParityGames, validateGames } from '../../store/parity';
import { deserializeReplayState, ReplayStateError, serializeReplayState } from '../../store/replayState';

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-replaystate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Fields RingRift's Python GameState model requires (by alias), and what the TS deserializer reads. */
const REQUIRED_STATE_FIELDS = [
  'id',
  'boardType',
  'board',
  'players',
  'currentPhase',
  'currentPlayer',
  'timeControl',
  'gameStatus',
  'createdAt',
  'lastMoveAt',
  'isRated',
  'maxPlayers',
  'totalRingsInPlay',
  'totalRingsEliminated',
  'victoryThreshold',
  'territoryVictoryThreshold',
];
const REQUIRED_PLAYER_FIELDS = [
  'id',
  'username',
  'type',
  'playerNumber',
  'isReady',
  'timeRemaining',
  'ringsInHand',
  'eliminatedRings',
  'territorySpaces',
];

async function selfplayShard(dir: string, boardType: BoardType, numPlayers: number, numGames: number, maxMoves: number): Promise<string> {
  const input: ShardInput = {
    workflowId: `selfplay-${boardType}_${numPlayers}p-test`,
    shardIndex: 0,
    firstGame: 0,
    numGames,
    boardType,
    numPlayers,
    seed: 7,
    playerMix: numPlayers === 2 ? ['random', 'heuristic'] : ['random'],
    maxMoves,
    shardDb: path.join(dir, `${boardType}_${numPlayers}p.db`),
  };
  await playShard(input, () => {});
  return input.shardDb;
}

for (const [boardType, numPlayers, games, maxMoves] of [
  ['square8', 2, 4, 3000],
  ['hex8', 3, 2, 120],
  ['square19', 2, 1, 40],
  ['hexagonal', 4, 1, 40],
] as const) {
  test(`self-play ${boardType} ${numPlayers}p: stored initial states deserialize to the stored fingerprint and hash`, async (t) => {
    const file = await selfplayShard(tmp(t), boardType, numPlayers, games, maxMoves);
    const db = openGameDb(file, { boardType, numPlayers });
    try {
      const rows = db.sqlite
        .prepare(
          `SELECT g.game_id AS id, g.metadata_json AS meta, i.initial_state_json AS init, i.compressed AS c,
                  (SELECT state_hash_before FROM game_history_entries h WHERE h.game_id = g.game_id AND h.move_number = 0) AS h0
             FROM games g JOIN game_initial_state i ON i.game_id = g.game_id ORDER BY g.game_id`,
        )
        .all() as { id: string; meta: string; init: string; c: number; h0: string }[];
      assert.equal(rows.length, games);
      for (const r of rows) {
        assert.equal(r.c, 0);
        const json = JSON.parse(r.init) as Record<string, unknown>;
        // the shape RingRift's readers need (the summary row we used to write lacked all of these)
        for (const f of REQUIRED_STATE_FIELDS) assert.ok(f in json, `${r.id}: initial state lacks ${f}`);
        const board = json['board'] as Record<string, unknown>;
        assert.equal(board['type'], boardType);
        for (const f of ['size', 'stacks', 'markers', 'collapsedSpaces', 'eliminatedRings']) assert.ok(f in board, `board.${f}`);
        const players = json['players'] as Record<string, unknown>[];
        assert.equal(players.length, numPlayers);
        for (const p of players) for (const f of REQUIRED_PLAYER_FIELDS) assert.ok(f in p, `players[].${f}`);
        assert.deepEqual(json['moveHistory'], []);
        assert.equal(json['gameStatus'], 'active');
        assert.equal(json['currentPhase'], 'ring_placement');
        assert.deepEqual(json['rulesOptions'], numPlayers === 2 ? { swapRuleEnabled: true } : {});

        const meta = JSON.parse(r.meta) as { initialFingerprint: string; initialStateHash: string };
        const s = deserializeReplayState(json);
        assert.equal(fingerprint(s), meta.initialFingerprint, r.id);
        assert.equal(hashState(s), meta.initialStateHash, r.id);
        assert.equal(hashState(s), r.h0, `${r.id}: state_hash_before of move 0`);
        const fresh = createInitialState({ boardType, numPlayers, seed: s.seed });
        assert.equal(fingerprint(s), fingerprint(fresh));
        assert.equal(s.swapEnabled, fresh.swapEnabled);

        // what our readers make of it
        const g = readGame(db, r.id)!;
        assert.equal(fingerprint(initialStateFor(g)), meta.initialFingerprint);
        // RingRift's Move carries an id and a 1-based moveNumber
        g.moves.forEach((m, i) => {
          assert.equal(m['moveNumber'], i + 1);
          assert.equal(typeof m['id'], 'string');
        });
        // progress counters per move and the final counters per player
        const last = g.steps[g.steps.length - 1]!;
        const finals = (last.progressAfter as { players: Record<string, number>[] }).players;
        assert.equal(finals.length, numPlayers);
        for (const p of g.players) {
          const f = finals.find((x) => x['playerNumber'] === p.seat)!;
          assert.equal(p.finalEliminatedRings, f['eliminatedRings']);
          assert.equal(p.finalTerritorySpaces, f['territorySpaces']);
          assert.equal(p.finalRingsInHand, f['ringsInHand']);
        }
        assert.deepEqual((g.steps[0]!.progressBefore as { players: unknown[] }).players.length, numPlayers);
      }
      // the whole DB passes parity through the deserialized initial states
      const res = validateGames(db, selectParityGames(db), { checkedAt: '2026-01-01T00:00:00Z', write: false });
      assert.equal(res.passed, games, JSON.stringify(res.problems[0]));
    } finally {
      closeGameDb(db);
    }
  });
}

test('serialize → deserialize keeps the fingerprint of every state of a game (stacks, markers, territory)', () => {
  for (const [boardType, numPlayers, seed] of [
    ['square8', 2, 3],
    ['hex8', 4, 5],
    ['square8', 3, 11],
  ] as const) {
    const game = playRandomGame({ boardType, numPlayers, seed, maxMoves: 400 });
    const s = createInitialState({ boardType, numPlayers, seed });
    for (const m of game.moves) {
      applyMoveTrusted(s, m);
      const json = JSON.parse(JSON.stringify(serializeReplayState(s, { gameId: 'g', createdAt: '2026-01-01T00:00:00Z' }))) as unknown;
      const back = deserializeReplayState(json);
      assert.equal(fingerprint(back), fingerprint(s));
    }
    const json = serializeReplayState(s, { gameId: 'g', createdAt: '2026-01-01T00:00:00Z' });
    if (s.status === 'completed') {
      assert.equal(json['currentPhase'], 'game_over');
      assert.equal(json['winner'], s.winner);
    }
  }
});

test('the deserializer also reads the TS contract form, and names the field it cannot read', () => {
  const contract = {
    gameId: 'c',
    board: {
      type: 'square8',
      size: 8,
      stacks: { '3,3': { position: { x: 3, y: 3 }, rings: [2, 1, 1], stackHeight: 3, capHeight: 1, controllingPlayer: 2 } },
      markers: { '4,4': { position: { x: 4, y: 4 }, player: 1, type: 'regular' } },
      collapsedSpaces: { '0,0': 2 },
      eliminatedRings: { '1': 0, '2': 1 },
    },
    players: [
      { playerNumber: 1, ringsInHand: 16, eliminatedRings: 0, territorySpaces: 0, isActive: true },
      { playerNumber: 2, ringsInHand: 16, eliminatedRings: 1, territorySpaces: 1, isActive: true },
    ],
    currentPlayer: 1,
    currentPhase: 'movement',
    turnNumber: 5,
    moveHistory: [],
    gameStatus: 'active',
    victoryThreshold: 18,
    territoryVictoryThreshold: 33,
  };
  const s = deserializeReplayState(contract);
  assert.equal(fingerprint(s), '1:movement:active:0#1:16:0:0|2:16:1:1#3,3:2:3:1#4,4:1#0,0:2');
  const bad = (edit: (o: Record<string, unknown>) => void, msg: RegExp) => {
    const o = structuredClone(contract) as unknown as Record<string, unknown>;
    edit(o);
    assert.throws(
      () => deserializeReplayState(o),
      (e: Error) => e instanceof ReplayStateError && msg.test(e.message),
    );
  };
  bad((o) => delete o['players'], /not a stored game state/);
  bad((o) => ((o['board'] as Record<string, unknown>)['type'] = 'octagon'), /^boardType: unknown board type "octagon"/);
  bad(
    (o) =>
      ((
        (o['board'] as { stacks: Record<string, { controllingPlayer: number }> }).stacks['3,3'] as { controllingPlayer: number }
      ).controllingPlayer = 1),
    /board\.stacks\.3,3\.controllingPlayer: 1, but the top ring is player 2/,
  );
  bad(
    (o) => ((o['board'] as { markers: unknown }).markers = { '9,9': { player: 1 } }),
    /board\.markers\.9,9: .* is not a cell of a square8 board/,
  );
  bad((o) => (o['currentPhase'] = 'lunch'), /^currentPhase: unknown phase "lunch"/);
  bad((o) => (o['gameStatus'] = 'paused'), /^gameStatus: "paused" cannot be replayed/);
  bad((o) => ((o['players'] as { ringsInHand: unknown }[])[0]!.ringsInHand = -1), /^players\.0\.ringsInHand: expected an integer/);
});

test('a gzip-compressed initial state (compressed = 1) is read like a plain one', async (t) => {
  const file = await selfplayShard(tmp(t), 'square8', 2, 1, 30);
  const db = openGameDb(file, { boardType: 'square8', numPlayers: 2 });
  try {
    const row = db.sqlite.prepare('SELECT game_id AS id, initial_state_json AS j FROM game_initial_state').get() as {
      id: string;
      j: string;
    };
    const plain = readGame(db, row.id)!;
    db.sqlite.prepare('UPDATE game_initial_state SET initial_state_json = ?, compressed = 1').run(gzipSync(row.j));
    const zipped = readGame(db, row.id)!;
    assert.deepEqual(zipped.initialState, plain.initialState);
    assert.equal(validateGames(db, [row.id], { checkedAt: 'x', write: false }).passed, 1);
  } finally {
    closeGameDb(db);
  }
});
