// `ringrift schedule nightly --config-key K --at HH:MM [--timezone Z]`, `schedule list|trigger|delete`:
// Temporal Schedules (visible in the Web UI and `temporal schedule list`) that start the
// nightlyPromotion workflow (workflows/nightlyPromotion.ts) with the same validated input the
// workflow checks itself. Overlap policy SKIP: a night whose previous run still works is skipped.
import type { Command } from 'commander';
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { LoadedConfig } from '../../config/load';
import { parseConfigKey } from '../../store/registry';
import { parseWorkflowInput } from '../../workflows/inputSchemas';
import type { NightlyStartInput } from '../../workflows/nightlyPromotion';
import { WORKFLOW_QUEUE } from '../../workers/run';
import { UserError } from '../errors';
import { cliConfig } from '../context';
import { connectOrExplain } from './cluster';
import { parseIntOption } from './pipeline';

export const NIGHTLY_PREFIX = 'nightly-';

/** "02:00" → { hour: 2, minute: 0 }, or a one-line refusal. */
export function parseAt(at: string): { hour: number; minute: number } {
  const m = /^(\d{1,2}):(\d{2})$/.exec(at);
  const hour = m ? Number(m[1]) : NaN;
  const minute = m ? Number(m[2]) : NaN;
  if (!m || hour > 23 || minute > 59) throw new UserError(`--at: "${at}" is not a time of day: use HH:MM, e.g. 02:00`);
  return { hour, minute };
}

export function checkTimezone(zone: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new UserError(`--timezone: unknown time zone "${zone}": use an IANA name, e.g. UTC or Europe/Berlin`);
  }
  return zone;
}

async function withClient<T>(cfg: LoadedConfig, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectOrExplain(cfg);
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

async function onSchedule<T>(id: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new UserError(`no schedule "${id}" (see ringrift schedule list)`);
    throw err;
  }
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('Temporal Schedules: the nightly promotion');

  schedule
    .command('nightly')
    .description('every day at --at: gauntlet the newest untested candidates of a config key and promote through the saga')
    .requiredOption('--config-key <key>', 'e.g. square8_2p')
    .option('--at <HH:MM>', 'time of day', '02:00')
    .option('--timezone <zone>', 'IANA time zone of --at', 'UTC')
    .option('--max-candidates <n>', 'judge at most the newest n per night [config: nightly.maxCandidates]')
    .option('--schedule-id <id>', 'schedule id (default nightly-<config key>)')
    .action(async (o: { configKey: string; at: string; timezone: string; maxCandidates?: string; scheduleId?: string }, cmd: Command) => {
      const cfg = cliConfig(cmd);
      let board;
      try {
        board = parseConfigKey(o.configKey);
      } catch (err) {
        throw new UserError(`--config-key: ${(err as Error).message}`);
      }
      const { hour, minute } = parseAt(o.at);
      const timezone = checkTimezone(o.timezone);
      const input: NightlyStartInput = {
        configKey: o.configKey,
        ...(o.maxCandidates !== undefined ? { maxCandidates: parseIntOption('--max-candidates', o.maxCandidates, 1, 1000) } : {}),
      };
      const parsed = parseWorkflowInput('nightlyPromotion', input);
      if (!parsed.ok) throw new UserError(parsed.problems.join('\n'));
      const scheduleId = o.scheduleId ?? `${NIGHTLY_PREFIX}${o.configKey}`;
      const when = `${o.at} ${timezone}`;
      await withClient(cfg, async (client) => {
        try {
          await client.schedule.create({
            scheduleId,
            spec: { calendars: [{ hour, minute, comment: `nightly promotion at ${when}` }], timezone },
            action: {
              type: 'startWorkflow',
              workflowType: 'nightlyPromotion',
              taskQueue: WORKFLOW_QUEUE,
              workflowId: scheduleId, // the server appends the scheduled time
              args: [input],
            },
            policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: `${cfg.pipeline.nightly.catchupWindowMinutes} minutes` },
            state: { note: `nightly promotion of ${o.configKey} at ${when} (ringrift schedule nightly)` },
          });
        } catch (err) {
          if ((err as Error).name === 'ScheduleAlreadyRunning') {
            throw new UserError(`schedule "${scheduleId}" already exists: delete it first (ringrift schedule delete ${scheduleId})`);
          }
          throw err;
        }
        const next = (await client.schedule.getHandle(scheduleId).describe()).info.nextActionTimes[0];
        console.log(`created schedule ${scheduleId}: nightlyPromotion of ${o.configKey} (${board.boardType}) every day at ${when}`);
        console.log(
          `  next run: ${next?.toISOString() ?? '-'}; overlap SKIP; catch-up window ${cfg.pipeline.nightly.catchupWindowMinutes} min`,
        );
        console.log(`  run it now: ringrift schedule trigger ${scheduleId}`);
      });
    });

  schedule
    .command('list')
    .description('schedules with their next run, overlap policy and recent runs')
    .action(async (_o, cmd: Command) => {
      const cfg = cliConfig(cmd);
      await withClient(cfg, async (client) => {
        let n = 0;
        for await (const s of client.schedule.list()) {
          const d = await client.schedule.getHandle(s.scheduleId).describe();
          const action = d.action.type === 'startWorkflow' ? d.action.workflowType : d.action.type;
          console.log(
            `${s.scheduleId}  ${action}  next ${d.info.nextActionTimes[0]?.toISOString() ?? '-'}  overlap ${d.policies.overlap}  catch-up ${Math.round(d.policies.catchupWindow / 60000)} min${d.state.paused ? '  PAUSED' : ''}`,
          );
          if (d.state.note) console.log(`  ${d.state.note}`);
          for (const r of d.info.recentActions.slice(-3)) console.log(`  ran ${r.takenAt.toISOString()}: ${r.action.workflow.workflowId}`);
          n++;
        }
        if (n === 0) console.log('no schedules: create one with ringrift schedule nightly --config-key K --at 02:00');
      });
    });

  schedule
    .command('trigger <id>')
    .description('start the schedule’s action now (its overlap policy still applies)')
    .action(async (id: string, _o, cmd: Command) => {
      const cfg = cliConfig(cmd);
      await withClient(cfg, (client) => onSchedule(id, () => client.schedule.getHandle(id).trigger()));
      console.log(`triggered ${id}`);
    });

  schedule
    .command('delete <id>')
    .description('delete a schedule (runs it started keep running)')
    .action(async (id: string, _o, cmd: Command) => {
      const cfg = cliConfig(cmd);
      await withClient(cfg, (client) => onSchedule(id, () => client.schedule.getHandle(id).delete()));
      console.log(`deleted schedule ${id}`);
    });
}
