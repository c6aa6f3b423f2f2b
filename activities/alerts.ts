// Alerts: a Slack-compatible JSON POST on promotion, rejection, rollback and phase failure. The URL
// and the signing secret come from the worker's environment (RINGRIFT_ALERT_WEBHOOK_URL,
// RINGRIFT_ALERT_SECRET) or its config (phases.promote.alerts), never from the workflow, so they
// never enter a workflow's payloads or history. Workflows send alerts without waiting on them, and a
// failed alert never fails a promotion.
import { createHmac } from 'node:crypto';
import { ApplicationFailure, log } from '@temporalio/activity';
import type { LoadedConfig } from '../config/load';

export type AlertKind = 'promoted' | 'rejected' | 'rolled_back' | 'phase_failed';

export interface AlertInput {
  kind: AlertKind;
  configKey: string;
  modelId: string | null;
  workflowId: string;
  text: string;
}

export interface AlertResult {
  sent: boolean;
  status: number | null;
  /** why nothing was sent */
  skipped?: string;
}

const ICON: Record<AlertKind, string> = { promoted: ':trophy:', rejected: ':x:', rolled_back: ':rewind:', phase_failed: ':warning:' };

/** The JSON body: Slack reads `text`; the other fields are for receivers that parse them. */
export function alertBody(a: AlertInput): string {
  return JSON.stringify({
    text: `${ICON[a.kind]} RingRift ${a.configKey}: ${a.text}`,
    username: 'ringrift',
    ringrift: { kind: a.kind, configKey: a.configKey, modelId: a.modelId, workflowId: a.workflowId },
  });
}

/** `sha256=<hex HMAC of "<timestamp>.<body>">`, sent as X-RingRift-Signature with X-RingRift-Timestamp. */
export function alertSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function createAlertActivities(deps: { config?: LoadedConfig }) {
  return {
    async sendAlert(a: AlertInput): Promise<AlertResult> {
      const cfg = deps.config?.pipeline.phases.promote.alerts;
      const url = process.env.RINGRIFT_ALERT_WEBHOOK_URL || cfg?.webhookUrl || null;
      const secret = process.env.RINGRIFT_ALERT_SECRET || cfg?.secret || null;
      if (!url) return { sent: false, status: null, skipped: 'no webhook configured' };
      const body = alertBody(a);
      const timestamp = String(Math.floor(Date.now() / 1000));
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-ringrift-timestamp': timestamp };
      if (secret) headers['x-ringrift-signature'] = alertSignature(secret, timestamp, body);
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(5000) });
      } catch (err) {
        // the message names the host only: the URL may carry a token
        throw new Error(`alert webhook at ${new URL(url).host} unreachable: ${(err as Error).message}`);
      }
      if (res.status >= 500 || res.status === 429) throw new Error(`alert webhook answered ${res.status}; retrying`);
      if (res.status >= 400) throw ApplicationFailure.nonRetryable(`alert webhook refused the alert (${res.status})`, 'AlertRefused');
      log.info('alert sent', { kind: a.kind, configKey: a.configKey, status: res.status });
      return { sent: true, status: res.status };
    },
  };
}

export type AlertActivities = ReturnType<typeof createAlertActivities>;
