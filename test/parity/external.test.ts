// External replayer protocol: a correct replayer agrees with the stored hashes and with ours; a
// deliberately wrong one is caught at the move where it goes wrong; crashes and protocol errors
// become clear per-game errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { closeGameDb, openGameDb, readGame } from '../../store/gameDb';
import {
  externalHashesFor,
  parseResponse,
  probeReplayer,
  requestForGame,
  resolveReplayerCommand,
  splitCommand,
} from '../../store/externalReplayer';
import { ExternalReplayerFailure, replayGame, validateGames } from '../../store/parity';
import { buildDb, tmpDir } from './helpers';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE: [string, string[]] = [process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/fixtures/external-replayer.ts')]];
const NOW = '2026-11-23T12:00:00.000Z';
const withFlags = (...flags: string[]): [string, string[]] => [FIXTURE[0], [...FIXTURE[1], ...flags]];

test('external replayer: the fixture answers every game with our hashes; the phase runs both and passes', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'g.db');
  const ids = buildDb(file, 'hex8', 2, 5, 21);
  const db = openGameDb(file, { boardType: 'hex8', numPlayers: 2 });
  try {
    const ext = await externalHashesFor(db, ids, withFlags('--fingerprints'), { cwd: ROOT, window: 3 });
    assert.equal(ext.size, 5);
    for (const id of ids) {
      const h = ext.get(id);
      assert.ok(h && !(h instanceof Error), String(h));
      const ours = replayGame(readGame(db, id)!);
      assert.deepEqual([h.initialHash, ...h.hashes], ours.hashes);
      assert.equal(h.fingerprints!.length, h.hashes.length);
    }
    const res = validateGames(db, ids, { checkedAt: NOW, external: ext });
    assert.equal(res.passed, 5, JSON.stringify(res.problems));
  } finally {
    closeGameDb(db);
  }
});

test('external replayer: a deliberately wrong replayer is caught at its wrong move, in exactly that game', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'g.db');
  const ids = buildDb(file, 'square8', 2, 4, 31);
  const db = openGameDb(file, { boardType: 'square8', numPlayers: 2 });
  try {
    const ext = await externalHashesFor(db, ids, withFlags('--wrong-move', '12', '--wrong-game', ids[1], '--fingerprints'), { cwd: ROOT });
    const res = validateGames(db, ids, { checkedAt: NOW, external: ext });
    assert.equal(res.passed, 3);
    assert.equal(res.problems.length, 1);
    const p = res.problems[0];
    assert.equal(p.gameId, ids[1]);
    assert.equal(p.status, 'failed');
    assert.equal(p.divergenceMove, 12);
    assert.equal(p.engine, 'external');
    assert.equal(p.reason, 'external_mismatch');
    assert.notEqual(p.externalHash, p.expectedHash);
    assert.equal(p.actualHash, p.expectedHash, 'our engine agrees with the record');
    assert.ok(p.externalFingerprint);
    assert.deepEqual(readGame(db, ids[1])!.parity, { status: 'failed', checkedAt: NOW, divergenceMove: 12 });
  } finally {
    closeGameDb(db);
  }
});

test('external replayer: crash and out-of-order answers become errors with a clear message', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'g.db');
  const ids = buildDb(file, 'square8', 3, 4, 51, 60);
  const db = openGameDb(file, { boardType: 'square8', numPlayers: 3 });
  try {
    const crash = await externalHashesFor(db, ids, withFlags('--crash-after', '2'), { cwd: ROOT, window: 1 });
    assert.ok(!(crash.get(ids[0]) instanceof Error));
    assert.ok(!(crash.get(ids[1]) instanceof Error));
    const e = crash.get(ids[2]);
    assert.ok(e instanceof Error);
    assert.match(e.message, /exited \(code 3\)/);
    // a dead replayer is an environment failure: nothing is validated or written
    db.sqlite.prepare("UPDATE games SET parity_status = 'passed', parity_checked_at = 'earlier'").run();
    assert.throws(
      () => validateGames(db, ids, { checkedAt: NOW, external: crash }),
      (err: Error) => err instanceof ExternalReplayerFailure && err.gameId === ids[2] && /exited \(code 3\)/.test(err.message),
    );
    const rows = db.sqlite.prepare('SELECT parity_status AS s, parity_checked_at AS c FROM games').all() as { s: string; c: string }[];
    assert.ok(rows.every((r) => r.s === 'passed' && r.c === 'earlier'));
    // the games it did answer are still usable on their own
    assert.equal(validateGames(db, ids.slice(0, 2), { checkedAt: NOW, external: crash, write: false }).passed, 2);

    const bad = await externalHashesFor(db, ids.slice(0, 2), withFlags('--bad-order'), { cwd: ROOT });
    assert.match(String(bad.get(ids[0])), /protocol error/);

    const missing = await externalHashesFor(db, ids.slice(0, 1), ['/nonexistent/replayer', []], { cwd: ROOT });
    assert.match(String(missing.get(ids[0])), /cannot run external replayer|exited/);
  } finally {
    closeGameDb(db);
  }
});

test('protocol helpers: request shape, response validation, command splitting', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'g.db');
  const [id] = buildDb(file, 'square8', 2, 1, 3, 10);
  const db = openGameDb(file, { boardType: 'square8', numPlayers: 2, readonly: true });
  try {
    const req = requestForGame(readGame(db, id)!);
    assert.deepEqual(Object.keys(req).sort(), ['boardType', 'gameId', 'moves', 'numPlayers', 'rulesOptions', 'seed']);
    assert.equal(req.moves.length, 10);
    assert.deepEqual(req.rulesOptions, { swapRuleEnabled: true });
  } finally {
    closeGameDb(db);
  }
  assert.throws(() => parseResponse('{"gameId":"a","hashes":["xyz"]}', 'a'), /16-hex/);
  assert.throws(() => parseResponse('nope', 'a'), /not JSON/);
  assert.throws(() => parseResponse('{"gameId":"b","hashes":[]}', 'a'), /protocol error/);
  assert.deepEqual(parseResponse('{"gameId":"a","initialHash":"0123456789abcdef","hashes":[],"error":"boom"}', 'a'), {
    initialHash: '0123456789abcdef',
    hashes: [],
    error: { move: null, message: 'boom' },
  });
  assert.deepEqual(splitCommand(`python3 "my script.py" --x 'a b'`), ['python3', ['my script.py', '--x', 'a b']]);
});

test('replayer checks before a run: the command must exist and speak the protocol', async () => {
  const fixture = [FIXTURE[0], ...FIXTURE[1]].join(' ');
  await probeReplayer(fixture, { boardType: 'square8', numPlayers: 2 }, { cwd: ROOT });
  assert.throws(() => resolveReplayerCommand('/nonexistent/replayer'), /^ExternalReplayerError: \/nonexistent\/replayer: no such file$/);
  assert.throws(() => resolveReplayerCommand('no-such-replayer-xyz --flag'), /no-such-replayer-xyz: command not found on PATH/);
  assert.throws(() => resolveReplayerCommand(path.join(ROOT, 'README.md')), /not an executable file/);
  await assert.rejects(probeReplayer('/nonexistent/replayer', { boardType: 'square8', numPlayers: 2 }), /no such file/);
  // starts, but exits at once
  await assert.rejects(
    probeReplayer('true', { boardType: 'square8', numPlayers: 2 }),
    /external replayer exited \(code 0\).*EXTERNAL_REPLAYER\.md/,
  );
  // answers, but not in the protocol (cat echoes the request: no initialHash)
  await assert.rejects(probeReplayer('cat', { boardType: 'hex8', numPlayers: 3 }), /without an initialHash/);
  await assert.rejects(probeReplayer(`${fixture} --bad-order`, { boardType: 'square8', numPlayers: 2 }, { cwd: ROOT }), /protocol error/);
});
