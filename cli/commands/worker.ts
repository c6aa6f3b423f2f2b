// `ringrift worker --queue <name>`: one worker on one task queue, in the foreground.
import type { Command } from 'commander';
import { runWorker } from '../../workers/run';
import { cliConfig } from '../context';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker polling one task queue until SIGINT/SIGTERM')
    .requiredOption('-q, --queue <name>', 'task queue to poll (cpu, gpu, ...)')
    .option('--force', 'start a gpu worker even when no GPU is detected')
    .action(async (opts: { queue: string; force?: boolean }, cmd: Command) => {
      await runWorker({ queue: opts.queue, force: opts.force ?? false, config: cliConfig(cmd) });
    });
}
