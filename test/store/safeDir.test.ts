// Output folders are created one level at a time: under /proc a recursive mkdir spins forever,
// here every case comes back at once with an error naming the folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureWritableDir, UnwritableDirError } from '../../store/safeDir';
import { GameDbError, openGameDb } from '../../store/gameDb';

test('ensureWritableDir creates missing levels and refuses what cannot be written, without hanging', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-safedir-'));
  try {
    const deep = path.join(dir, 'a', 'b', 'c');
    assert.equal(ensureWritableDir(deep), deep);
    assert.ok(fs.statSync(deep).isDirectory());
    assert.equal(ensureWritableDir(deep), deep); // again: nothing to do
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, 'x');
    assert.throws(
      () => ensureWritableDir(path.join(file, 'sub')),
      (e: Error) => e instanceof UnwritableDirError && /f is not a directory/.test(e.message),
    );
    for (const p of ['/proc/x', '/proc/x/y/z']) {
      assert.throws(
        () => ensureWritableDir(p),
        (e: Error) => e instanceof UnwritableDirError && e.dir === p && /^[A-Z]+$/.test(e.reason),
      );
    }
    assert.throws(
      () => openGameDb('/proc/x/games.db', { boardType: 'square8', numPlayers: 2, create: true }),
      (e: Error) => e instanceof GameDbError && /^cannot create game DB \/proc\/x\/games\.db: \/proc\/x is not writable/.test(e.message),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
