// `ringrift pipeline run parity_validation | npz_export`: clear one-line errors (missing DB, DB
// with no games, nothing passed parity, output exists, bad options) and dry runs; nothing starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { RINGRIFT_BIN } from '../helpers/temporal';
import { closeGameDb, openGameDb } from '../../store/gameDb';
import { selectParityGames, validateGames } from '../../store/parity';
import { buildDb, tmpDir } from '../parity/helpers';

// an address where nothing listens: any attempt to connect would fail differently
const ENV = { ...process.env, RINGRIFT_TEMPORAL_ADDRESS: '127.0.0.1:1' };

function ringrift(args: string[]) {
  const r = spawnSync(RINGRIFT_BIN, args, { encoding: 'utf8', env: ENV, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
}

test('pipeline run parity_validation / npz_export: input errors and dry runs', (t) => {
  const dir = tmpDir(t, 'rr-cli-');
  const missing = path.join(dir, 'missing.db');
  let r = ringrift(['pipeline', 'run', 'parity_validation', '--db', missing]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `ringrift: --db: no such file: ${missing}`);
  r = ringrift(['pipeline', 'run', 'npz_export', '--db', missing, '--output-dir', dir]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^ringrift: --db: no such file: /);

  const empty = path.join(dir, 'empty.db');
  closeGameDb(openGameDb(empty, { boardType: 'hex8', numPlayers: 3, create: true }));
  r = ringrift(['pipeline', 'run', 'parity_validation', '--db', empty]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^ringrift: --db: .*empty\.db holds no games: nothing to do$/);

  const notDb = path.join(dir, 'junk.db');
  fs.writeFileSync(notDb, 'not sqlite at all, just text that is long enough to be read as a header');
  r = ringrift(['pipeline', 'run', 'parity_validation', '--db', notDb]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^ringrift: --db: /);

  const db = path.join(dir, 'g.db');
  buildDb(db, 'square8', 2, 3, 1, 40);
  r = ringrift(['pipeline', 'run', 'npz_export', '--db', db, '--output-dir', path.join(dir, 'out')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /none of the 3 games .* passed parity: run 'ringrift pipeline run parity_validation --db .*' first$/);

  r = ringrift(['pipeline', 'run', 'parity_validation', '--db', db, '--sample', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^ringrift: --sample: must be between 1 and/);
  r = ringrift(['pipeline', 'run', 'parity_validation', '--db', db, '--fail-threshold', 'lots']);
  assert.match(r.stderr, /^ringrift: --fail-threshold: expected a number, got "lots"$/);

  r = ringrift(['pipeline', 'run', 'parity_validation', '--db', db, '--sample', '2', '--seed', '5', '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /dry run: parity_validation square8_2p, nothing started/);
  assert.match(r.stdout, /seeded sample of 2 \(seed 5\)/);

  const h = openGameDb(db, { boardType: 'square8', numPlayers: 2 });
  validateGames(h, selectParityGames(h), { checkedAt: '2026-01-01T00:00:00Z' });
  closeGameDb(h);
  const out = path.join(dir, 'out');
  r = ringrift(['pipeline', 'run', 'npz_export', '--db', db, '--output-dir', out, '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /3 passed parity; 3 will be exported/);
  assert.match(r.stdout, /output: +.*g\.square8_2p\.npz/);

  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'g.square8_2p.npz'), 'older, larger dataset');
  r = ringrift(['pipeline', 'run', 'npz_export', '--db', db, '--output-dir', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /g\.square8_2p\.npz already exists; an existing dataset is never overwritten/);
  assert.equal(fs.readFileSync(path.join(out, 'g.square8_2p.npz'), 'utf8'), 'older, larger dataset');
  r = ringrift(['pipeline', 'run', 'npz_export', '--db', db, '--output-dir', out, '--split-ratio', '1']);
  assert.match(r.stderr, /^ringrift: --split-ratio: must be in \(0, 1\), got 1$/);
});

test('npz_export / parity_validation with an output folder that cannot be created: one line, no hang', (t) => {
  const dir = tmpDir(t, 'rr-cli-out-');
  const db = path.join(dir, 'g.db');
  buildDb(db, 'square8', 2, 2, 1, 30);
  const h = openGameDb(db, { boardType: 'square8', numPlayers: 2 });
  validateGames(h, selectParityGames(h), { checkedAt: '2026-01-01T00:00:00Z' });
  closeGameDb(h);
  const started = Date.now();
  // a recursive mkdir under /proc spins at 100% CPU; the check must come back at once
  let r = ringrift(['pipeline', 'run', 'npz_export', '--db', db, '--output-dir', '/proc/x', '--dry-run']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^ringrift: --output-dir: \/proc\/x is not writable \([A-Z]+\): pick a folder you can write to$/);
  r = ringrift(['pipeline', 'run', 'npz_export', '--db', db, '--output-dir', '/proc/x/y/z']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^ringrift: --output-dir: \/proc\/x\/y\/z is not writable/);
  r = ringrift(['pipeline', 'run', 'parity_validation', '--db', db, '--report-dir', '/proc/x', '--dry-run']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^ringrift: --report-dir: \/proc\/x is not writable/);
  const file = path.join(dir, 'plain-file');
  fs.writeFileSync(file, 'x');
  r = ringrift(['pipeline', 'run', 'npz_export', '--db', db, '--output-dir', path.join(file, 'sub')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--output-dir: .*plain-file\/sub is not writable \(.*plain-file is not a directory\)/);
  assert.ok(Date.now() - started < 50_000);
});

test('parity_validation --external: a replayer that does not exist or does not speak the protocol is refused before anything starts', (t) => {
  const dir = tmpDir(t, 'rr-cli-ext-');
  const db = path.join(dir, 'g.db');
  buildDb(db, 'square8', 2, 2, 1, 30);
  const h = openGameDb(db, { boardType: 'square8', numPlayers: 2 });
  validateGames(h, selectParityGames(h), { checkedAt: '2026-01-01T00:00:00Z' });
  closeGameDb(h);
  const before = fs.readFileSync(db);
  let r = ringrift(['pipeline', 'run', 'parity_validation', '--db', db, '--external', '/nonexistent/replayer', '--wait']);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(
    r.stderr,
    'ringrift: --external: /nonexistent/replayer: no such file: give a replayer command that exists (store/EXTERNAL_REPLAYER.md)',
  );
  r = ringrift(['pipeline', 'run', 'parity_validation', '--db', db, '--external', 'cat', '--wait']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /^ringrift: --external: "cat" cannot be used: answered the protocol check without an initialHash \(protocol: store\/EXTERNAL_REPLAYER\.md\)$/,
  );
  r = ringrift(['pipeline', 'run', 'parity_validation', '--db', db, '--external', 'true', '--dry-run']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^ringrift: --external: "true" cannot be used: external replayer exited \(code 0\)/);
  const fixture = `${process.execPath} --import tsx ${path.resolve(__dirname, '../fixtures/external-replayer.ts')}`;
  r = ringrift(['pipeline', 'run', 'parity_validation', '--db', db, '--external', fixture, '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /external: +.*external-replayer\.ts/);
  assert.ok(fs.readFileSync(db).equals(before), 'the DB is untouched');
});
