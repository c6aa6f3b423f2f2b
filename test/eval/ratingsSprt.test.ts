// Ratings and the SPRT gate: Bradley–Terry recovers known Elo gaps, Wilson bounds, the pentanomial
// LLR against an independent numpy computation, and a seeded Monte Carlo of SPRT error rates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { mulberry32 } from '../../engine';
import { REPO_ROOT } from '../../config/load';
import { eloFromScore, fitBradleyTerry, pairwiseResults, scoreFromElo, wilson, type EvalGame } from '../../store/ratings';
import { llrPentanomial, sprtStatus, type Pentanomial, type SprtConfig } from '../../store/sprt';

test('Bradley–Terry: two players, closed form; anchor at 0; draws are half points', () => {
  // 70 wins, 20 draws, 10 losses of A against random: score 0.8, MLE Elo = eloFromScore(0.8) (prior off)
  const games: EvalGame[] = [];
  for (let i = 0; i < 70; i++) games.push({ seats: i % 2 ? ['A', 'random'] : ['random', 'A'], winner: i % 2 ? 1 : 2 });
  for (let i = 0; i < 20; i++) games.push({ seats: ['A', 'random'], winner: null });
  for (let i = 0; i < 10; i++) games.push({ seats: ['random', 'A'], winner: 1 });
  const [a, r] = fitBradleyTerry(pairwiseResults(games), { priorDraws: 0 });
  assert.equal(r!.participant, 'random');
  assert.equal(r!.elo, 0);
  assert.equal(a!.participant, 'A');
  assert.ok(Math.abs(a!.elo! - eloFromScore(0.8)) < 1e-6, `${a!.elo} vs ${eloFromScore(0.8)}`);
  // observed information of a binomial logit: var(beta) = 1/(n p (1-p)) = 1/16 → SE = 0.25 nats
  assert.ok(Math.abs(a!.se! - (0.25 * 400) / Math.LN10) < 1e-6);
  assert.ok(Math.abs(a!.hi! - a!.elo! - 1.96 * a!.se!) < 1e-9);
});

test('Bradley–Terry recovers a known ladder from simulated games; disconnected players are unrated', () => {
  const truth: Record<string, number> = { random: 0, heuristic: 300, m1: 450, m2: 600 };
  const rng = mulberry32(7);
  const names = Object.keys(truth);
  const games: EvalGame[] = [];
  for (let k = 0; k < 12000; k++) {
    const i = Math.floor(rng() * 4);
    let j = Math.floor(rng() * 3);
    if (j >= i) j++;
    const pa = scoreFromElo(truth[names[i]!]! - truth[names[j]!]!);
    const u = rng();
    games.push({ seats: [names[i]!, names[j]!], winner: u < pa - 0.05 ? 1 : u < pa + 0.05 ? null : 2 });
  }
  games.push({ seats: ['island1', 'island2'], winner: 1 });
  const ladder = fitBradleyTerry(pairwiseResults(games));
  for (const r of ladder.filter((x) => x.participant in truth)) {
    const err = Math.abs(r.elo! - truth[r.participant]!);
    assert.ok(err < 3.5 * Math.max(r.se!, 1), `${r.participant}: ${r.elo!.toFixed(1)} ± ${r.se!.toFixed(1)} vs ${truth[r.participant]}`);
    if (r.participant !== 'random') assert.ok(r.se! > 3 && r.se! < 20, `SE ${r.se}`);
  }
  assert.deepEqual(ladder.map((r) => r.participant).slice(0, 4), ['m2', 'm1', 'heuristic', 'random']);
  assert.equal(ladder.find((r) => r.participant === 'island1')!.elo, null);
  // a 4-player game: the winner beats all three, the others draw among themselves
  const four = pairwiseResults([{ seats: ['a', 'b', 'c', 'd'], winner: 3 }]);
  assert.deepEqual(
    four.map((p) => [p.a, p.b, p.scoreA]),
    [
      ['a', 'b', 0.5],
      ['a', 'c', 0],
      ['a', 'd', 0.5],
      ['b', 'c', 0],
      ['b', 'd', 0.5],
      ['c', 'd', 1],
    ],
  );
});

test('Wilson interval: known values', () => {
  const w = wilson(45, 50);
  // p = 0.9, n = 50: (0.9 + 1.96²/100 ± 1.96·sqrt(0.0018 + 1.96²/10000)) / (1 + 1.96²/50)
  assert.ok(Math.abs(w.lo - 0.7864) < 1e-3 && Math.abs(w.hi - 0.9565) < 1e-3, JSON.stringify(w));
  assert.deepEqual(wilson(0, 0), { rate: 0, lo: 0, hi: 1 });
  assert.ok(wilson(50, 50).lo > 0.92 && wilson(50, 50).hi === 1);
});

const PY = path.join(REPO_ROOT, '.venv', 'bin', 'python');

test('pentanomial LLR equals an independent numpy computation (polynomial roots)', { skip: !fs.existsSync(PY) && 'no .venv' }, () => {
  const cases: [Pentanomial, number, number][] = [
    [[31, 210, 580, 230, 35], 0, 5],
    [[5, 40, 90, 60, 12], 0, 10],
    [[0, 12, 30, 20, 0], -5, 10],
    [[100, 0, 0, 0, 140], 0, 50],
  ];
  const script = `
import json, sys, numpy as np
out = []
for penta, e0, e1 in json.load(sys.stdin):
    c = np.maximum(np.array(penta, float), 1e-3); N = c.sum(); p = c / N
    a = np.array([0, .25, .5, .75, 1])
    def tilt(s):
        d = a - s
        # sum_i p_i d_i prod_{k!=i} (1 + lam d_k) = 0, a quartic in lam
        poly = np.poly1d([0.0])
        for i in range(5):
            term = np.poly1d([p[i] * d[i]])
            for k in range(5):
                if k != i: term = term * np.poly1d([d[k], 1.0])
            poly = poly + term
        lo, hi = -1 / d.max(), -1 / d.min()
        roots = [r.real for r in np.roots(poly.coeffs) if abs(r.imag) < 1e-9 and lo < r.real < hi]
        assert len(roots) == 1, roots
        return p / (1 + roots[0] * d)
    L = lambda e: 1 / (1 + 10 ** (-e / 400))
    q0, q1 = tilt(L(e0)), tilt(L(e1))
    out.append(float(N * np.sum(p * np.log(q1 / q0))))
print(json.dumps(out))
`;
  const py = JSON.parse(execFileSync(PY, ['-c', script], { input: JSON.stringify(cases) }).toString()) as number[];
  cases.forEach(([penta, e0, e1], i) => {
    const ours = llrPentanomial(penta, e0, e1);
    assert.ok(Math.abs(ours - py[i]!) < 1e-6 * Math.max(1, Math.abs(py[i]!)), `case ${i}: ours ${ours} numpy ${py[i]}`);
  });
  console.log(
    `LLR ours vs numpy: ${cases.map((_, i) => `${llrPentanomial(cases[i]![0], cases[i]![1], cases[i]![2]).toFixed(6)}/${py[i]!.toFixed(6)}`).join(', ')}`,
  );
});

/** One pair of games (seats swapped) between players `elo` apart: the candidate's points 0..2 in halves. */
function simulatePair(rng: () => number, elo: number, drawRate: number): number {
  const s = scoreFromElo(elo);
  const win = s - drawRate / 2;
  const game = () => {
    const u = rng();
    return u < win ? 1 : u < win + drawRate ? 0.5 : 0;
  };
  return game() + game();
}

type SprtStatus = ReturnType<typeof sprtStatus>;

function runSprt(rng: () => number, elo: number, cfg: SprtConfig): SprtStatus['state'] {
  const penta = [0, 0, 0, 0, 0];
  for (;;) {
    penta[Math.round(simulatePair(rng, elo, 0.3) * 2)]! += 1;
    const st = sprtStatus(penta, cfg);
    if (st.state !== 'continue') return st.state;
  }
}

test('SPRT Monte Carlo: error rates within α and β (seeded)', () => {
  const cfg: SprtConfig = { elo0: 0, elo1: 40, alpha: 0.05, beta: 0.05, maxGames: 1e9 };
  const runs = 600;
  const rng = mulberry32(20261130);
  let falsePass = 0;
  let falseFail = 0;
  for (let k = 0; k < runs; k++) if (runSprt(rng, cfg.elo0, cfg) === 'H1') falsePass++;
  for (let k = 0; k < runs; k++) if (runSprt(rng, cfg.elo1, cfg) === 'H0') falseFail++;
  const se = Math.sqrt((0.05 * 0.95) / runs);
  const a = falsePass / runs;
  const b = falseFail / runs;
  console.log(
    `SPRT Monte Carlo [0, 40], ${runs} runs each: false pass ${a.toFixed(4)} (α 0.05), false fail ${b.toFixed(4)} (β 0.05), 3·SE ${(3 * se).toFixed(4)}`,
  );
  assert.ok(a <= 0.05 + 3 * se, `false pass rate ${a}`);
  assert.ok(b <= 0.05 + 3 * se, `false fail rate ${b}`);
  assert.ok(a > 0.005 && b > 0.005, 'the test is not trivially conservative');
  // a strong candidate passes quickly, and a cap truncates
  assert.equal(runSprt(mulberry32(3), 200, cfg), 'H1');
  assert.equal(sprtStatus([10, 20, 40, 20, 10], { ...cfg, maxGames: 200 }).state, 'truncated');
});
