// Placeholder until the engine lands: `ringrift engine verify` is registered here.
import type { Command } from 'commander';

export function registerEngineCommands(program: Command): void {
  program.command('engine').description('rules engine tools (verify traces)');
}
