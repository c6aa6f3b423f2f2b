// `ringrift ratings show|plot --config-key K`: the Elo ladder from evaluation games only.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { resolveFromRoot } from '../../config/load';
import { ladder } from '../../store/evalLadder';
import { renderRatingsHtml } from '../../store/ratingsReport';
import { parseConfigKey } from '../../store/registry';
import { cliConfig } from '../context';
import { UserError } from '../errors';

function load(cmd: Command, configKey: string) {
  try {
    parseConfigKey(configKey);
  } catch (err) {
    throw new UserError(`--config-key: ${(err as Error).message}`);
  }
  const cfg = cliConfig(cmd);
  const evalDir = resolveFromRoot(cfg.pipeline.phases.gauntlet.evalDir);
  const result = ladder({ evalDir, configKey, registryDir: resolveFromRoot(cfg.pipeline.registry.dir) });
  if (result.games === 0) {
    throw new UserError(`--config-key: no evaluation games for ${configKey} in ${path.join(evalDir, configKey)}: run a gauntlet first`);
  }
  return { ...result, floors: cfg.pipeline.phases.gauntlet.floors };
}

export function registerRatingsCommands(program: Command): void {
  const ratings = program.command('ratings').description('Elo ladder per config key, from evaluation games only');
  ratings
    .command('show')
    .description('the ladder: Bradley–Terry Elo (random = 0) with 95% intervals, and win rates against the baselines')
    .requiredOption('--config-key <key>', 'e.g. square8_2p')
    .option('--json', 'one JSON object per row')
    .action((o: { configKey: string; json?: boolean }, cmd: Command) => {
      const { rows, games, dbs } = load(cmd, o.configKey);
      if (o.json) {
        for (const r of rows) console.log(JSON.stringify(r));
        return;
      }
      console.log(`${o.configKey}: ${games} evaluation games from ${dbs} run(s); random = 0`);
      console.log(
        `${'#'.padStart(3)}  ${'player'.padEnd(44)} ${'status'.padEnd(9)} ${'Elo'.padStart(6)}  ${'95% interval'.padEnd(15)} ${'games'.padStart(6)}  vs random  vs heuristic`,
      );
      rows.forEach((r, i) => {
        const vs = (b: string) => (r.vs[b] ? `${r.vs[b].rate.toFixed(3)}≥${r.vs[b].lo.toFixed(2)}` : '-');
        const ci = r.elo === null ? 'unconnected' : `${r.lo!.toFixed(0)} … ${r.hi!.toFixed(0)}`;
        console.log(
          `${String(i + 1).padStart(3)}  ${r.participant.padEnd(44)} ${(r.status ?? (r.modelId ? '?' : 'baseline')).padEnd(9)} ${(r.elo === null ? '-' : r.elo.toFixed(0)).padStart(6)}  ${ci.padEnd(15)} ${String(r.games).padStart(6)}  ${vs('random').padEnd(10)} ${vs('heuristic')}`,
        );
      });
    });
  ratings
    .command('plot')
    .description('a self-contained HTML/SVG report: Elo per model generation with CI bars, win rates against each baseline')
    .requiredOption('--config-key <key>', 'e.g. square8_2p')
    .requiredOption('--out <file>', 'the HTML file to write (temp + rename)')
    .action((o: { configKey: string; out: string }, cmd: Command) => {
      const out = path.resolve(o.out);
      if (!fs.existsSync(path.dirname(out))) throw new UserError(`--out: folder ${path.dirname(out)} does not exist`);
      const { rows, games, dbs, floors } = load(cmd, o.configKey);
      const html = renderRatingsHtml(rows, { configKey: o.configKey, games, dbs, floors, generatedAt: new Date().toISOString() });
      const tmp = `${out}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, html);
      fs.renameSync(tmp, out);
      console.log(`wrote ${out}: ${rows.length} players, ${games} games`);
    });
}
