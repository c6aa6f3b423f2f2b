// `ringrift ratings show|plot` over real evaluation games (neural policy players of three tiny
// networks, heuristic and random), played by the self-play shard loop into eval DBs: the ladder is
// the Bradley–Terry fit of exactly those games, the report is self-contained HTML/SVG.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { playShard } from '../../activities/selfplay';
import { fitBradleyTerry, pairwiseResults } from '../../store/ratings';
import { ladder, readEvalGames } from '../../store/evalLadder';
import { closeRegistry, openRegistry } from '../../store/registry';
import { markModel, setBest } from '../../store/registryBest';
import { RINGRIFT_BIN } from '../helpers/temporal';
import { registerModels, tinySquare8Models } from './tinyModels';

/** Plays `games` evaluation games (seat-swapped pairs) of `a` against `b` into <evalDir>/square8_2p/<run>.db. */
export async function playEval(dir: string, run: string, a: string, b: string, games: number, seed: number): Promise<void> {
  await playShard(
    {
      workflowId: run,
      shardIndex: 0,
      firstGame: 0,
      numGames: games,
      boardType: 'square8',
      numPlayers: 2,
      seed,
      playerMix: [a, b],
      maxMoves: 3000,
      shardDb: path.join(dir, 'eval', 'square8_2p', `${run}.db`),
      gamesPerSeed: 2,
      gameIdPrefix: `${run}-${b}`,
      source: 'gauntlet',
      registryDir: path.join(dir, 'models'),
    },
    () => undefined,
  );
}

test('ratings show and plot: the ladder of the evaluation games, with CIs and win rates vs baselines', { timeout: 240_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-ratings-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const models = registerModels(path.join(dir, 'models'), await tinySquare8Models([11, 12, 13]));
  const reg = openRegistry(path.join(dir, 'models'));
  setBest(reg, models[1]!.id, { reason: 'test' });
  markModel(reg, models[0]!.id, 'retired', { reason: 'test' });
  closeRegistry(reg);
  const spec = models.map((m) => `policy:${m.id}`);
  let run = 0;
  for (const s of spec) for (const base of ['random', 'heuristic']) await playEval(dir, `r${run++}`, s, base, 8, run);
  await playEval(dir, `r${run++}`, spec[1]!, spec[0]!, 8, 99);
  await playEval(dir, `r${run++}`, spec[2]!, spec[1]!, 8, 98);
  await playEval(dir, `r${run++}`, 'heuristic', 'random', 8, 97);

  const cfgDir = path.join(dir, 'config');
  fs.mkdirSync(cfgDir);
  fs.writeFileSync(path.join(cfgDir, 'pipeline.yaml'), `phases:\n  gauntlet:\n    evalDir: ${path.join(dir, 'eval')}\n`);
  const env = { ...process.env, RINGRIFT_CONFIG_DIR: cfgDir, RINGRIFT_REGISTRY_DIR: path.join(dir, 'models') };
  const cli = (...args: string[]) => spawnSync(RINGRIFT_BIN, args, { env, encoding: 'utf8' });

  const games = readEvalGames(path.join(dir, 'eval'), 'square8_2p');
  assert.equal(games.length, 8 * 9);
  const fit = fitBradleyTerry(pairwiseResults(games));
  const shown = cli('ratings', 'show', '--config-key', 'square8_2p', '--json');
  assert.equal(shown.status, 0, shown.stderr);
  const rows = shown.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ReturnType<typeof ladder>['rows'][number]);
  assert.deepEqual(
    rows.map((r) => [r.participant, r.elo, r.lo, r.hi, r.games]),
    fit.map((r) => [r.participant, r.elo, r.lo, r.hi, r.games]),
  );
  assert.equal(rows.find((r) => r.participant === 'random')!.elo, 0);
  const best = rows.find((r) => r.modelId === models[1]!.id)!;
  assert.equal(best.status, 'best');
  assert.equal(best.generation, 2);
  assert.equal(best.vs.random!.games, 8);
  assert.equal(best.vs.heuristic!.games, 8);
  assert.ok(best.vs.random!.lo <= best.vs.random!.rate && best.vs.random!.rate <= best.vs.random!.hi);
  for (const r of rows) assert.ok(r.participant === 'random' || (r.se! > 0 && r.lo! < r.elo! && r.elo! < r.hi!), r.participant);

  const text = cli('ratings', 'show', '--config-key', 'square8_2p');
  assert.equal(text.status, 0);
  assert.match(text.stdout, /72 evaluation games from 9 run\(s\); random = 0/);
  assert.match(text.stdout, new RegExp(`policy:${models[1]!.id} +best`));

  const out = path.join(dir, 'report.html');
  const plot = cli('ratings', 'plot', '--config-key', 'square8_2p', '--out', out);
  assert.equal(plot.status, 0, plot.stderr);
  const html = fs.readFileSync(out, 'utf8');
  assert.equal((html.match(/<svg /g) ?? []).length, 2);
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, 'self-contained: no scripts, nothing fetched');
  // one point per rated player in the Elo chart; two baselines x three models in the win-rate chart
  assert.equal((html.match(/<circle cx/g) ?? []).length - 2 /* legend */, 5 + 6);
  for (const m of models) assert.ok(html.includes(m.id), m.id);
  if (process.env.RINGRIFT_KEEP_REPORT) fs.copyFileSync(out, process.env.RINGRIFT_KEEP_REPORT);

  const none = cli('ratings', 'show', '--config-key', 'hex8_2p');
  assert.equal(none.status, 2);
  assert.match(none.stderr, /^ringrift: --config-key: no evaluation games for hex8_2p/);
  assert.equal(none.stderr.trim().split('\n').length, 1);
  const bad = cli('ratings', 'plot', '--config-key', 'square8_2p', '--out', path.join(dir, 'nope', 'r.html'));
  assert.equal(bad.status, 2);
  assert.ok(!fs.existsSync(path.join(dir, 'nope')));
});
