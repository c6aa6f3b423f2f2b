// Replays every shared reference trace (traces/ and extras/) and requires 0 mismatches:
// fingerprint, hash, status (and phase/player while active), legal move count and, where
// recorded, the normalised legal move set, plus the final result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readTraceFile, verifyTraceFiles } from '../../cli/commands/engine';
import { UserError } from '../../cli/errors';
import { playRandomGame, moveKey } from '../../engine';

const REF = path.resolve(__dirname, '../..', '../shared/ringrift-reference');
const files = [
  ...fs.readdirSync(path.join(REF, 'traces')).map((f) => path.join(REF, 'traces', f)),
  ...fs.readdirSync(path.join(REF, 'extras')).map((f) => path.join(REF, 'extras', f)),
]
  .filter((f) => /\.jsonl(\.gz)?$/.test(f))
  .sort();

test('trace files are present', () => {
  assert.ok(files.length >= 11, `found ${files.length} trace files under ${REF}`);
});

for (const file of files) {
  test(`trace replay: ${path.basename(file)} has 0 mismatches`, () => {
    const lines: string[] = [];
    const sum = verifyTraceFiles([file], (l) => lines.push(l));
    assert.ok(sum.games > 0);
    assert.equal(sum.mismatches, 0, lines.slice(0, 6).join('\n'));
  });
}

test('random player reproduces the recorded games move for move (sample of every file)', () => {
  for (const file of files) {
    const games = readTraceFile(file).slice(0, 2);
    for (const g of games) {
      const r = playRandomGame({
        boardType: g.boardType as never,
        numPlayers: g.numPlayers,
        seed: g.seed,
        rulesOptions: g.rulesOptions ?? {},
      });
      assert.equal(r.moves.length, g.steps.length, `${file} seed ${g.seed}`);
      for (let i = 0; i < r.moves.length; i++)
        assert.equal(moveKey(r.moves[i]), moveKey(g.steps[i].move as never), `${file} seed ${g.seed} move ${i + 1}`);
      assert.equal(r.result.winner, g.result?.winner);
      assert.equal(r.result.victoryReason, g.result?.victoryReason);
    }
  }
});

test('verify reports a corrupted step as a mismatch with both fingerprints', () => {
  const src = files.find((f) => f.endsWith('square8_3p.jsonl'))!;
  const first = fs.readFileSync(src, 'utf8').split('\n')[0];
  const g = JSON.parse(first) as { steps: { fingerprint: string; hash: string }[] };
  g.steps[5].hash = '0000000000000000';
  g.steps[5].fingerprint = g.steps[5].fingerprint.replace('active', 'activX');
  const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rr-verify-')), 'bad.jsonl');
  fs.writeFileSync(tmp, JSON.stringify(g) + '\n');
  const lines: string[] = [];
  const sum = verifyTraceFiles([tmp], (l) => lines.push(l));
  assert.equal(sum.games, 1);
  assert.ok(sum.mismatches >= 1);
  assert.ok(lines.some((l) => l.includes('expected fingerprint') && l.includes('activX')));
  assert.ok(lines.some((l) => l.startsWith('  actual fingerprint')));
});

test('verify: missing file and bad JSON are UserErrors', () => {
  assert.throws(() => readTraceFile('/nonexistent/trace.jsonl'), UserError);
  const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rr-verify-')), 'bad.jsonl');
  fs.writeFileSync(tmp, '{"boardType": \n');
  assert.throws(
    () => readTraceFile(tmp),
    (e: unknown) => e instanceof UserError && /bad JSON/.test((e as Error).message),
  );
});

test('cli: ringrift engine verify prints the summary line; exit 1 on mismatch, 0 when clean', async () => {
  const { spawnSync } = await import('node:child_process');
  const bin = path.resolve(__dirname, '../../bin/ringrift');
  const good = files.find((f) => f.endsWith('hex8_4p.jsonl'))!;
  const ok = spawnSync(bin, ['engine', 'verify', good], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  const last = ok.stdout.trim().split('\n').pop();
  assert.match(last ?? '', /^verify: 5 games, \d+ positions, 0 mismatches, 0 reference-error games$/);
  const g = JSON.parse(fs.readFileSync(good, 'utf8').split('\n')[0]) as { steps: { hash: string }[] };
  g.steps[3].hash = 'ffffffffffffffff';
  const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rr-verify-')), 'bad.jsonl');
  fs.writeFileSync(tmp, JSON.stringify(g) + '\n');
  const bad = spawnSync(bin, ['engine', 'verify', tmp], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /MISMATCH .* step 4: hash/);
  assert.match(bad.stdout.trim().split('\n').pop() ?? '', /^verify: 1 games, \d+ positions, 1 mismatches, 0 reference-error games$/);
});
