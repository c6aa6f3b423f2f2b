// `ringrift pipeline run gauntlet|promote` without a server: the plan a dry run prints (candidate
// model → player spec, baselines, the current best under the SPRT), and bad input refused with one
// line and exit 2 before anything starts. The gates' wording is pinned by judge().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { closeRegistry, openRegistry, registerModel } from '../../store/registry';
import { setBest } from '../../store/registryBest';
import { candidateSeat, modelPlayerSpec } from '../../activities/gauntlet';
import { judge, type OpponentResult } from '../../workflows/gauntlet';
import { sprtStatus } from '../../store/sprt';
import { RINGRIFT_BIN } from '../helpers/temporal';

test('judge: floors on the Wilson lower bound, SPRT must accept H1; seats and specs', () => {
  const o = (over: Partial<OpponentResult>): OpponentResult => ({
    name: 'random',
    spec: 'random',
    modelId: null,
    role: 'baseline',
    games: 40,
    wins: 38,
    draws: 0,
    losses: 2,
    rate: 0.95,
    lo: 0.835,
    hi: 0.986,
    penta: [0, 0, 0, 0, 0],
    floor: 0.9,
    ...over,
  });
  assert.deepEqual(judge([o({})], null, 2), ['vs random: win rate 0.950 (95% lower bound 0.835) is below the floor 0.9']);
  assert.deepEqual(judge([o({ lo: 0.91 })], null, 2), []);
  const cfg = { elo0: 0, elo1: 10, alpha: 0.05, beta: 0.05, maxGames: 1000 };
  const h0 = sprtStatus([120, 40, 20, 12, 8], cfg);
  assert.equal(h0.state, 'H0');
  assert.match(
    judge([o({ name: 'best', role: 'best', floor: null })], h0, 2)[0]!,
    /^vs best: SPRT accepted H0 \(LLR -\d+\.\d\d in \[-2\.94, 2\.94\] after 400 games\)$/,
  );
  assert.deepEqual(judge([o({ name: 'best', role: 'best', floor: null, lo: 0.2 })], null, 4), [
    'vs best: score 0.950 (lower bound 0.200) is not above 1/4',
  ]);
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => candidateSeat(i, 2)),
    [1, 2, 1, 2],
  );
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((i) => candidateSeat(i, 3)),
    [1, 3, 2, 1, 3],
  );
  assert.equal(modelPlayerSpec('square8_2p-0123456789ab', 'gumbel:{model}:sims=32'), 'gumbel:square8_2p-0123456789ab:sims=32');
});

test('pipeline run gauntlet/promote: dry-run plan and one-line refusals', { timeout: 60_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-gauntlet-cli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const reg = openRegistry(path.join(dir, 'models'), { create: true });
  const ids = [0, 1].map((i) => {
    const f = path.join(dir, `m${i}.onnx`);
    fs.writeFileSync(f, `model ${i}`);
    const input = { configKey: 'square8_2p', onnxFile: f, architecture: {}, params: 0, trainingData: [], hyperparameters: {}, metrics: {} };
    return registerModel(reg, { ...input, gitCommit: 't', workflowId: 't' }).model.id;
  });
  setBest(reg, ids[0]!, { reason: 'test' });
  closeRegistry(reg);
  const env = { ...process.env, RINGRIFT_REGISTRY_DIR: path.join(dir, 'models'), RINGRIFT_TEMPORAL_ADDRESS: '127.0.0.1:1' };
  const cli = (...args: string[]) =>
    promisify(execFile)(RINGRIFT_BIN, args, { env, encoding: 'utf8' }).then(
      (r) => ({ status: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ status: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  const [dry, promoteDry, ...bad] = await Promise.all([
    cli('pipeline', 'run', 'gauntlet', '--candidate', ids[1]!, '--config-key', 'square8_2p', '--games', '30', '--seed', '7', '--dry-run'),
    cli('pipeline', 'run', 'promote', '--candidate', ids[1]!, '--dry-run'),
    cli('pipeline', 'run', 'gauntlet', '--candidate', ids[1]!, '--config-key', 'hex8_2p'),
    cli('pipeline', 'run', 'gauntlet', '--candidate', 'square8_2p-ffffffffffff', '--config-key', 'square8_2p'),
    cli('pipeline', 'run', 'gauntlet', '--candidate', 'heuristic', '--config-key', 'square8_2p', '--games', '0'),
    cli('pipeline', 'run', 'gauntlet', '--candidate', 'heuristic', '--config-key', 'square8_2p'),
    cli('pipeline', 'run', 'promote', '--candidate', ids[0]!),
  ]);
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, new RegExp(`candidate: +mcts:${ids[1]}\\n`));
  assert.match(dry.stdout, /vs random +random: 30 games/);
  assert.match(dry.stdout, /vs heuristic +heuristic: 30 games/);
  assert.match(dry.stdout, new RegExp(`vs best +mcts:${ids[0]}: SPRT \\[0, 10\\], at most 2000 games`));
  assert.match(dry.stdout, /\(seed 7\)/);
  assert.equal(promoteDry.status, 0, promoteDry.stderr);
  assert.match(promoteDry.stdout, /regression: 100 games vs the previous best, roll back below -20 Elo/);
  const why = [
    /--candidate: model square8_2p-\w+ is a square8_2p model, not hex8_2p/,
    /--candidate: no model "square8_2p-ffffffffffff"/,
    /--games: must be between 1 and 1000000, got 0/,
    /--candidate: candidate heuristic is also one of its opponents/,
    /--candidate: model square8_2p-\w+ is already the best square8_2p model/,
  ];
  bad.forEach((r, i) => {
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, why[i]!);
  });
  assert.ok(!fs.existsSync(path.join(dir, 'eval')), 'nothing written');
});
