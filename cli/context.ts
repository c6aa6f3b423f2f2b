// Shared CLI plumbing: config loading with one-line-per-problem errors.
import path from 'node:path';
import type { Command } from 'commander';
import { ConfigError, DEFAULT_CONFIG_DIR, loadConfig, type LoadedConfig } from '../config/load';
import { UserError } from './errors';

export function configDir(cmd: Command): string {
  const opt = cmd.optsWithGlobals<{ config?: string }>().config;
  return path.resolve(opt ?? process.env.RINGRIFT_CONFIG_DIR ?? DEFAULT_CONFIG_DIR);
}

export function cliConfig(cmd: Command): LoadedConfig {
  try {
    return loadConfig(configDir(cmd));
  } catch (err) {
    if (err instanceof ConfigError) throw new UserError(err.problems.join('\n'), 2);
    throw err;
  }
}
