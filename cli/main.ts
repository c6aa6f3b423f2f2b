// Entry point of the `ringrift` command line.
import { Command, CommanderError } from 'commander';
import { registerDevCommands } from './commands/dev';
import { registerWorkerCommand } from './commands/worker';
import { registerClusterCommands } from './commands/cluster';
import { registerEngineCommands } from './commands/engine';
import { registerPipelineCommands } from './commands/pipeline';
import { registerModelsCommands } from './commands/models';
import { registerRatingsCommands } from './commands/ratings';
import { registerSchemaCommand } from './commands/schema';
import { registerLoopCommands } from './commands/loop';
import { registerScheduleCommands } from './commands/schedule';
import { UserError } from './errors';

export function buildProgram(): Command {
  const program = new Command('ringrift')
    .description('RingRift AI-training pipeline on Temporal')
    .option('-c, --config <dir>', 'config directory (pipeline.yaml, hosts.yaml)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerDevCommands(program);
  registerWorkerCommand(program);
  registerClusterCommands(program);
  registerEngineCommands(program);
  registerPipelineCommands(program);
  registerModelsCommands(program);
  registerRatingsCommands(program);
  registerSchemaCommand(program);
  registerLoopCommands(program);
  registerScheduleCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its one-line message
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UserError) {
      for (const line of err.message.split('\n')) process.stderr.write(`ringrift: ${line}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`ringrift: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
