// `ringrift worker --queue <name>`: one worker on one task queue, in the foreground.
import type { Command } from 'commander';
import { runWorker } from '../../workers/run';
import { cliConfig } from '../context';
import { UserError } from '../errors';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker polling one task queue until SIGINT/SIGTERM')
    .requiredOption('-q, --queue <name>', 'task queue to poll (cpu, gpu, ...)')
    .option('--force', 'start a gpu worker even when no GPU is detected')
    .option('--host <name>', 'the hosts.yaml name of this machine, named by the artifact refs it writes (default: RINGRIFT_HOST)')
    .action(async (opts: { queue: string; force?: boolean; host?: string }, cmd: Command) => {
      // activities read it from the environment (as workers started by `cluster up` get it)
      if (opts.host !== undefined) {
        if (!/^[A-Za-z0-9_.-]+$/.test(opts.host)) {
          throw new UserError(`--host "${opts.host}": host names use letters, digits, "_", "." and "-" (as in hosts.yaml)`);
        }
        process.env.RINGRIFT_HOST = opts.host;
      }
      await runWorker({ queue: opts.queue, force: opts.force ?? false, config: cliConfig(cmd) });
    });
}
