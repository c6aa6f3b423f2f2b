// Players and the self-play game record: specs, the reference random player, heuristic strength, determinism.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { HEURISTIC_WEIGHTS, PlayerSpecError, evaluateFor, parsePlayerSpec } from '../../ai/players';
import { gameSeed, playGame, seatSpecs } from '../../ai/selfplay';
import { createInitialState, moveKey, playRandomGame } from '../../engine';

const TRACES = path.resolve(__dirname, '../../../shared/ringrift-reference/traces');

test('player specs parse, and bad ones name the choices', () => {
  assert.deepEqual(parsePlayerSpec('random'), { kind: 'random' });
  assert.deepEqual(parsePlayerSpec(' heuristic '), { kind: 'heuristic' });
  assert.throws(
    () => parsePlayerSpec('greedy'),
    (e: Error) =>
      e instanceof PlayerSpecError &&
      e.message === 'unknown player "greedy": use one of random, heuristic, policy:<model>, mcts:<model>[:sims=N], gumbel:<model>[:sims=N]',
  );
  assert.throws(() => parsePlayerSpec('mcts:model.onnx'), PlayerSpecError);
});

test('seat specs: one spec fills every seat; one per seat rotates per game', () => {
  assert.deepEqual(seatSpecs(['random'], 3, 5), ['random', 'random', 'random']);
  assert.deepEqual(seatSpecs(['heuristic', 'random'], 2, 0), ['heuristic', 'random']);
  assert.deepEqual(seatSpecs(['heuristic', 'random'], 2, 1), ['random', 'heuristic']);
  assert.throws(() => seatSpecs(['a', 'b'], 3, 0), RangeError);
});

test('the random player with a trace seed reproduces the reference game move for move', () => {
  const line = zlib
    .gunzipSync(fs.readFileSync(path.join(TRACES, 'square8_2p.jsonl.gz')))
    .toString('utf8')
    .split('\n')[0]!;
  const trace = JSON.parse(line) as { seed: number; steps: { move: Record<string, unknown>; hash: string }[] };
  const game = playGame({ boardType: 'square8', numPlayers: 2, seed: trace.seed, seats: ['random', 'random'], maxMoves: 3000 });
  assert.equal(game.moves.length, trace.steps.length);
  game.moves.forEach((m, i) => assert.equal(moveKey(m), moveKey(trace.steps[i]!.move), `move ${i + 1}`));
  assert.deepEqual(
    game.steps.map((s) => s.hashAfter),
    trace.steps.map((s) => s.hash),
  );
});

test('games are deterministic in (seed, seats) and game seeds differ per index', () => {
  const a = playGame({ boardType: 'hex8', numPlayers: 3, seed: gameSeed(7, 3), seats: ['heuristic', 'random', 'random'], maxMoves: 400 });
  const b = playGame({ boardType: 'hex8', numPlayers: 3, seed: gameSeed(7, 3), seats: ['heuristic', 'random', 'random'], maxMoves: 400 });
  assert.deepEqual(a.moves.map(moveKey), b.moves.map(moveKey));
  assert.notEqual(gameSeed(7, 3), gameSeed(7, 4));
  assert.notEqual(gameSeed(7, 3), gameSeed(8, 3));
});

test('the heuristic beats the random player on square8', () => {
  let heuristicWins = 0;
  const games = 12;
  for (let i = 0; i < games; i++) {
    const seats = seatSpecs(['heuristic', 'random'], 2, i);
    const g = playGame({ boardType: 'square8', numPlayers: 2, seed: gameSeed(42, i), seats, maxMoves: 3000 });
    if (g.winner !== null && seats[g.winner - 1] === 'heuristic') heuristicWins++;
  }
  assert.ok(heuristicWins >= 10, `heuristic won ${heuristicWins}/${games}`);
});

test('evaluation: level at the start, decisive once the game is won', () => {
  const s = createInitialState({ boardType: 'square8', numPlayers: 2, seed: 1 });
  assert.equal(evaluateFor(s, 1), 0);
  assert.equal(evaluateFor(s, 2), 0);
  const { state, result } = playRandomGame({ boardType: 'square8', numPlayers: 2, seed: 3 });
  assert.ok(result.winner === 1 || result.winner === 2);
  const loser = result.winner === 1 ? 2 : 1;
  assert.equal(evaluateFor(state, result.winner), HEURISTIC_WEIGHTS.win);
  assert.equal(evaluateFor(state, loser), -HEURISTIC_WEIGHTS.win);
});
