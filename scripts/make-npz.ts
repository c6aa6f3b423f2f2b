// Make a training NPZ from heuristic (or other) self-play games, the way the trainer tests do:
//   npx tsx scripts/make-npz.ts --board square8 --players 2 --games 40 --seed 1 --dir /tmp/npz [--mix heuristic,random] [--max-moves M]
// Prints one JSON line: { npzPath, dbPath, positions, … }.
import { parseArgs } from 'node:util';
import type { BoardType } from '../engine';
import { makeTrainingNpz } from '../test/helpers/trainingData';

const BOARDS = ['square8', 'square19', 'hex8', 'hexagonal'];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      board: { type: 'string', default: 'square8' },
      players: { type: 'string', default: '2' },
      games: { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      dir: { type: 'string' },
      mix: { type: 'string', default: 'heuristic' },
      'max-moves': { type: 'string', default: '3000' },
      'split-ratio': { type: 'string', default: '0.8' },
      'created-at': { type: 'string' },
      name: { type: 'string' },
    },
  });
  const problems: string[] = [];
  const board = values.board as string;
  if (!BOARDS.includes(board)) problems.push(`--board: ${board} is not one of ${BOARDS.join(', ')}`);
  const players = Number(values.players);
  if (![2, 3, 4].includes(players)) problems.push('--players: give 2, 3 or 4');
  const games = Number(values.games);
  if (!Number.isInteger(games) || games < 1) problems.push('--games: give a positive integer');
  const maxMoves = Number(values['max-moves']);
  if (!Number.isInteger(maxMoves) || maxMoves < 1) problems.push('--max-moves: give a positive integer');
  if (!values.dir) problems.push('--dir: required (output folder)');
  if (problems.length) {
    for (const p of problems) console.error(`make-npz: ${p}`);
    process.exit(2);
  }
  const t0 = performance.now();
  const res = await makeTrainingNpz({
    board: board as BoardType,
    players,
    games,
    seed: Number(values.seed),
    dir: values.dir as string,
    playerMix: (values.mix as string).split(','),
    maxMoves,
    splitRatio: Number(values['split-ratio']),
    createdAt: values['created-at'],
    name: values.name,
  });
  console.log(JSON.stringify({ ...res, seconds: (performance.now() - t0) / 1000 }));
}

main().catch((e: unknown) => {
  console.error(`make-npz: ${(e as Error).message}`);
  process.exit(1);
});
