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
import { moveFromReferenceError } from '../../engine/verify';

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

test('verify compares legal moves as the exact ordered key list', () => {
  const src = files.find((f) => f.endsWith('square8_3p.jsonl'))!;
  const g = JSON.parse(fs.readFileSync(src, 'utf8').split('\n')[0]) as { steps: { legalMoves?: string[] }[] };
  const step = g.steps.findIndex((st) => (st.legalMoves?.length ?? 0) >= 3);
  const lm = g.steps[step].legalMoves!;
  [lm[0], lm[1]] = [lm[1], lm[0]]; // same set, other order
  const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rr-verify-')), 'order.jsonl');
  fs.writeFileSync(tmp, JSON.stringify(g) + '\n');
  const lines: string[] = [];
  const sum = verifyTraceFiles([tmp], (l) => lines.push(l));
  assert.equal(sum.mismatches, 1);
  assert.ok(
    lines.some((l) => l.includes(`step ${step + 1}: legalMoves`) && l.includes('differs at index 0')),
    lines.join('\n'),
  );
});

test('verify: a legal key whose inner list is in another order is a mismatch (named as such)', () => {
  const src = files.find((f) => f.endsWith('square8_3p.jsonl'))!;
  for (const line of fs.readFileSync(src, 'utf8').split('\n').filter(Boolean)) {
    const g = JSON.parse(line) as { steps: { legalMoves?: string[] }[] };
    const step = g.steps.findIndex((st) => st.legalMoves?.some((k) => k.includes('"collapsedMarkers":[{')));
    if (step < 0) continue;
    const lm = g.steps[step].legalMoves!;
    const i = lm.findIndex((k) => k.includes('"collapsedMarkers":[{'));
    const m = JSON.parse(lm[i]) as { collapsedMarkers: unknown[] };
    m.collapsedMarkers.reverse();
    lm[i] = JSON.stringify(m);
    const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rr-verify-')), 'inner.jsonl');
    fs.writeFileSync(tmp, JSON.stringify(g) + '\n');
    const lines: string[] = [];
    const sum = verifyTraceFiles([tmp], (l) => lines.push(l));
    assert.equal(sum.mismatches, 1);
    assert.ok(
      lines.some((l) => l.includes('inner position lists in another order')),
      lines.join('\n'),
    );
    return;
  }
  assert.fail('no collapsedMarkers key found');
});

test('verify: games where the reference failed are counted apart and checked against the decision', () => {
  const errFile = path.join(REF, 'divergent', 'hex8_3p_reference_errors.jsonl.gz');
  const lines: string[] = [];
  const sum = verifyTraceFiles([errFile], (l) => lines.push(l));
  assert.equal(sum.games, 5);
  assert.equal(sum.referenceErrors, 5);
  assert.equal(sum.mismatches, 0, lines.join('\n'));
  assert.equal(lines.filter((l) => l.startsWith('REFERENCE-ERROR')).length, 5);
  assert.ok(lines.every((l) => !l.includes('NOT as documented')));
  // an error naming a move the engine does not offer is a mismatch
  const g = readTraceFile(errFile)[0];
  g.error = 'processTurn threw on {"from":{"x":0,"y":0,"z":0},"player":2,"to":{"x":4,"y":0,"z":-4},"type":"move_stack"}: boom';
  const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rr-verify-')), 'err.jsonl');
  fs.writeFileSync(tmp, JSON.stringify(g) + '\n');
  const out: string[] = [];
  const bad = verifyTraceFiles([tmp], (l) => out.push(l));
  assert.equal(bad.referenceErrors, 1);
  assert.equal(bad.mismatches, 1);
  assert.ok(
    out.some((l) => l.includes('NOT as documented') && l.includes('does not offer')),
    out.join('\n'),
  );
});

test('verify: every divergent game replays with 0 mismatches', () => {
  const dir = path.join(REF, 'divergent');
  const all = fs
    .readdirSync(dir)
    .filter((f) => /\.jsonl(\.gz)?$/.test(f))
    .map((f) => path.join(dir, f));
  assert.ok(all.length >= 9);
  const lines: string[] = [];
  const sum = verifyTraceFiles(all, (l) => lines.push(l));
  assert.equal(sum.games, 93);
  assert.equal(
    sum.mismatches,
    0,
    lines
      .filter((l) => l.startsWith('MISMATCH'))
      .slice(0, 6)
      .join('\n'),
  );
});

test('random player reproduces every divergent game move for move (square19 and hexagonal included)', () => {
  const dir = path.join(REF, 'divergent');
  for (const f of fs.readdirSync(dir).filter((x) => /\.jsonl(\.gz)?$/.test(x))) {
    for (const g of readTraceFile(path.join(dir, f))) {
      const failed = typeof g.error === 'string';
      const r = playRandomGame({
        boardType: g.boardType as never,
        numPlayers: g.numPlayers,
        seed: g.seed,
        rulesOptions: g.rulesOptions ?? {},
        // where the reference failed, play one move more: the move it offered and rejected
        maxMoves: failed ? g.steps.length + 1 : undefined,
      });
      for (let i = 0; i < g.steps.length; i++)
        assert.equal(moveKey(r.moves[i]), moveKey(g.steps[i].move as never), `${f} seed ${g.seed} move ${i + 1}`);
      if (failed) {
        const named = moveFromReferenceError(g.error!);
        assert.equal(moveKey(r.moves[g.steps.length]), moveKey(named as never), `${f} seed ${g.seed}: the move the reference rejected`);
      } else {
        assert.equal(r.moves.length, g.steps.length, `${f} seed ${g.seed}`);
        assert.equal(r.result.winner, g.result?.winner);
        assert.equal(r.result.victoryReason, g.result?.victoryReason);
      }
    }
  }
});
