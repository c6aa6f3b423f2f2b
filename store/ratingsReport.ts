// The ratings report: one self-contained HTML file (inline SVG and CSS, no scripts, no network):
// Elo per model generation with 95% bars, the win rates against each baseline with their Wilson
// intervals and floors, and the ladder as a table.
import type { LadderRow } from './evalLadder';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const STATUS_COLOUR: Record<string, string> = {
  best: '#1a9641',
  candidate: '#2b83ba',
  retired: '#878787',
  rejected: '#d7191c',
  failed: '#d7191c',
  baseline: '#444444',
};

function colour(r: LadderRow): string {
  return STATUS_COLOUR[r.status ?? (r.modelId ? 'candidate' : 'baseline')] ?? '#2b83ba';
}

/** Short label: the model id's hash part for models, else the spec. */
function label(r: LadderRow): string {
  if (!r.modelId) return r.participant;
  const kind = r.participant.split(':')[0];
  return `${r.generation !== null ? `g${r.generation} ` : ''}${kind}:${r.modelId.slice(r.modelId.lastIndexOf('-') + 1, r.modelId.lastIndexOf('-') + 7)}`;
}

/** Baselines first, then models by generation, then anything else by Elo. */
export function reportOrder(rows: LadderRow[]): LadderRow[] {
  const rank = (r: LadderRow) => (r.participant === 'random' ? 0 : r.participant === 'heuristic' ? 1 : r.generation !== null ? 2 : 3);
  return [...rows].filter((r) => r.elo !== null).sort((a, b) => rank(a) - rank(b) || (a.generation ?? 0) - (b.generation ?? 0));
}

function niceTicks(lo: number, hi: number, count = 6): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(+v.toFixed(6));
  return out;
}

interface Series {
  name: string;
  colour: string;
  points: { x: number; y: number; lo: number; hi: number; fill: string }[];
}

function chart(opts: {
  title: string;
  labels: string[];
  series: Series[];
  yLabel: string;
  yRange: [number, number];
  guides: { y: number; text: string; colour: string }[];
  format: (v: number) => string;
}): string {
  const W = 880;
  const H = 360;
  const m = { l: 70, r: 150, t: 36, b: 90 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const [y0, y1] = opts.yRange;
  const n = Math.max(opts.labels.length, 1);
  const X = (i: number, k = 0, of = 1) => m.l + ((i + 0.5) / n) * pw + (of > 1 ? (k - (of - 1) / 2) * Math.min(18, pw / n / (of + 1)) : 0);
  const Y = (v: number) => m.t + ph - ((Math.min(Math.max(v, y0), y1) - y0) / (y1 - y0 || 1)) * ph;
  const parts: string[] = [];
  parts.push(`<text x="${m.l}" y="22" class="title">${esc(opts.title)}</text>`);
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(t)}" y2="${Y(t)}" class="grid"/>`);
    parts.push(`<text x="${m.l - 8}" y="${Y(t) + 4}" class="tick" text-anchor="end">${esc(opts.format(t))}</text>`);
  }
  parts.push(`<text transform="translate(18 ${m.t + ph / 2}) rotate(-90)" class="axis" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  for (const g of opts.guides) {
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(g.y)}" y2="${Y(g.y)}" stroke="${g.colour}" class="guide"/>`);
    parts.push(`<text x="${m.l + pw + 6}" y="${Y(g.y) + 4}" class="tick" fill="${g.colour}">${esc(g.text)}</text>`);
  }
  opts.labels.forEach((l, i) => {
    parts.push(`<text transform="translate(${X(i)} ${m.t + ph + 14}) rotate(35)" class="tick">${esc(l)}</text>`);
  });
  opts.series.forEach((s, k) => {
    for (const p of s.points) {
      const x = X(p.x, k, opts.series.length);
      parts.push(`<line x1="${x}" x2="${x}" y1="${Y(p.lo)}" y2="${Y(p.hi)}" stroke="${s.colour}" class="bar"/>`);
      for (const v of [p.lo, p.hi])
        parts.push(`<line x1="${x - 5}" x2="${x + 5}" y1="${Y(v)}" y2="${Y(v)}" stroke="${s.colour}" class="bar"/>`);
      parts.push(
        `<circle cx="${x}" cy="${Y(p.y)}" r="5" fill="${p.fill}" stroke="${s.colour}"><title>${esc(`${opts.labels[p.x]}: ${opts.format(p.y)} [${opts.format(p.lo)}, ${opts.format(p.hi)}]`)}</title></circle>`,
      );
    }
  });
  if (opts.series.length > 1) {
    opts.series.forEach((s, k) => {
      // legend at the bottom of the right margin, clear of the guide labels near the top
      const y = m.t + ph - 8 - (opts.series.length - 1 - k) * 18;
      parts.push(`<circle cx="${m.l + pw + 14}" cy="${y}" r="5" fill="${s.colour}"/>`);
      parts.push(`<text x="${m.l + pw + 24}" y="${y + 4}" class="tick">${esc(s.name)}</text>`);
    });
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" class="frame"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${parts.join('')}</svg>`;
}

export interface ReportMeta {
  configKey: string;
  games: number;
  dbs: number;
  generatedAt: string;
  floors: Record<string, number>;
}

export function renderRatingsHtml(rows: LadderRow[], meta: ReportMeta): string {
  const ordered = reportOrder(rows);
  const labels = ordered.map(label);
  const elos = ordered.flatMap((r) => [r.lo!, r.hi!]);
  const lo = Math.min(0, ...elos);
  const hi = Math.max(100, ...elos);
  const pad = (hi - lo) * 0.08;
  const heuristic = rows.find((r) => r.participant === 'heuristic' && r.elo !== null);
  const eloChart = chart({
    title: `Elo by model generation (${meta.configKey}, 95% intervals, random = 0)`,
    labels,
    yLabel: 'Elo',
    yRange: [lo - pad, hi + pad],
    format: (v) => v.toFixed(0),
    guides: [{ y: 0, text: 'random', colour: '#999' }, ...(heuristic ? [{ y: heuristic.elo!, text: 'heuristic', colour: '#999' }] : [])],
    series: [
      {
        name: 'Elo',
        colour: '#333',
        points: ordered.map((r, i) => ({ x: i, y: r.elo!, lo: r.lo!, hi: r.hi!, fill: colour(r) })),
      },
    ],
  });
  const models = ordered.filter((r) => r.participant !== 'random' && r.participant !== 'heuristic');
  const baseColour: Record<string, string> = { random: '#e66101', heuristic: '#5e3c99' };
  const rateChart = chart({
    title: 'Win rate against each baseline (points per game, 95% Wilson intervals)',
    labels: models.map(label),
    yLabel: 'win rate',
    yRange: [0, 1],
    format: (v) => v.toFixed(2),
    guides: Object.entries(meta.floors).map(([b, f]) => ({ y: f, text: `floor vs ${b} ${f}`, colour: baseColour[b] ?? '#999' })),
    series: ['random', 'heuristic'].map((b) => ({
      name: `vs ${b}`,
      colour: baseColour[b]!,
      points: models.flatMap((r, i) => (r.vs[b] ? [{ x: i, y: r.vs[b].rate, lo: r.vs[b].lo, hi: r.vs[b].hi, fill: baseColour[b]! }] : [])),
    })),
  });
  const fmt = (v: number | null, d = 0) => (v === null ? '–' : v.toFixed(d));
  const table = rows
    .map(
      (r, i) =>
        `<tr><td>${i + 1}</td><td><span class="dot" style="background:${colour(r)}"></span>${esc(r.participant)}</td><td>${esc(r.status ?? (r.modelId ? '?' : 'baseline'))}</td><td class="n">${fmt(r.elo)}</td><td class="n">${r.elo === null ? '–' : `${fmt(r.lo)} … ${fmt(r.hi)}`}</td><td class="n">${r.games}</td>${[
          'random',
          'heuristic',
        ]
          .map((b) => `<td class="n">${r.vs[b] ? `${r.vs[b].rate.toFixed(3)} (≥ ${r.vs[b].lo.toFixed(3)}, n ${r.vs[b].games})` : '–'}</td>`)
          .join('')}</tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>RingRift ratings ${esc(meta.configKey)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:940px}
h1{font-size:20px;margin:0 0 4px}.sub{color:#666;margin:0 0 16px}
svg{display:block;margin:8px 0 24px;background:#fff}
.title{font-size:14px;font-weight:600}.tick{font-size:11px;fill:#444}.axis{font-size:12px;fill:#444}
.grid{stroke:#eee}.frame{fill:none;stroke:#bbb}.guide{stroke-dasharray:5 4}.bar{stroke-width:1.6}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px}
.legend span{margin-right:14px}
</style></head><body>
<h1>RingRift Elo ladder: ${esc(meta.configKey)}</h1>
<p class="sub">Maximum-likelihood Bradley–Terry over ${meta.games} evaluation games from ${meta.dbs} gauntlet run(s); random pinned at 0; draws count half. Generated ${esc(meta.generatedAt)}.</p>
<p class="legend">${Object.entries(STATUS_COLOUR)
    .filter(([k]) => k !== 'failed')
    .map(([k, c]) => `<span><span class="dot" style="background:${c}"></span>${k}</span>`)
    .join('')}</p>
${eloChart}
${rateChart}
<table><thead><tr><th>#</th><th>player</th><th>status</th><th>Elo</th><th>95% interval</th><th>games</th><th>vs random</th><th>vs heuristic</th></tr></thead>
<tbody>
${table}
</tbody></table>
</body></html>
`;
}
