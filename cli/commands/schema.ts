// `ringrift schema [workflow] [--markdown]`: the input of each workflow type as JSON Schema (for the
// Web UI's Start Workflow form and for scripts) or as the README's table, from the same zod schemas
// the workflows validate with.
import type { Command } from 'commander';
import { z } from 'zod';
import { WORKFLOW_INPUTS, type WorkflowType } from '../../workflows/inputSchemas';
import { UserError } from '../errors';

const TYPES = Object.keys(WORKFLOW_INPUTS) as WorkflowType[];

export function workflowJsonSchema(type: WorkflowType): Record<string, unknown> {
  return z.toJSONSchema(WORKFLOW_INPUTS[type].schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

interface JsonProp {
  type?: string | string[];
  enum?: unknown[];
  items?: JsonProp;
  anyOf?: JsonProp[];
  minimum?: number;
  maximum?: number;
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonProp>;
}

function typeText(p: JsonProp): string {
  if (p.enum) return p.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (p.anyOf) return p.anyOf.map(typeText).join(' \\| ');
  if (p.type === 'array') return `${p.items ? typeText(p.items) : 'any'}[]`;
  const t = Array.isArray(p.type) ? p.type.join(' \\| ') : (p.type ?? 'any');
  const lo = p.minimum !== undefined ? p.minimum : null;
  const hi = p.maximum !== undefined && p.maximum < Number.MAX_SAFE_INTEGER ? p.maximum : null;
  return lo !== null || hi !== null ? `${t} (${lo ?? ''}..${hi ?? ''})` : t;
}

/** Markdown rows `| field | type | required/default | meaning |`, nested objects flattened with dots. */
export function inputTable(type: WorkflowType): string {
  const schema = workflowJsonSchema(type) as { properties: Record<string, JsonProp>; required?: string[] };
  const rows: string[] = ['| field | type | default | meaning |', '|---|---|---|---|'];
  const walk = (props: Record<string, JsonProp>, required: string[], prefix: string) => {
    for (const [name, p] of Object.entries(props)) {
      const field = `${prefix}${name}`;
      const dflt = required.includes(name)
        ? '**required**'
        : p.default !== undefined
          ? `\`${JSON.stringify(p.default)}\``
          : /\[config/.test(p.description ?? '')
            ? 'from config'
            : 'optional';
      const meaning = (p.description ?? '').replace(/\|/g, '\\|');
      if (p.properties) {
        rows.push(`| \`${field}\` | object | ${dflt} | ${meaning} |`);
        walk(p.properties, (p as { required?: string[] }).required ?? [], `${field}.`);
      } else rows.push(`| \`${field}\` | ${typeText(p)} | ${dflt} | ${meaning} |`);
    }
  };
  walk(schema.properties, schema.required ?? [], '');
  return rows.join('\n');
}

export function registerSchemaCommand(program: Command): void {
  program
    .command('schema [workflow]')
    .description(`the input of a workflow type as JSON Schema (${TYPES.join(', ')}); all of them without an argument`)
    .option('--markdown', 'a table per workflow type (as in the README) instead of JSON Schema')
    .action((workflow: string | undefined, o: { markdown?: boolean }) => {
      if (workflow !== undefined && !TYPES.includes(workflow as WorkflowType)) {
        throw new UserError(`unknown workflow type "${workflow}": use one of ${TYPES.join(', ')}`);
      }
      const types = workflow ? [workflow as WorkflowType] : TYPES;
      if (o.markdown) {
        console.log(types.map((t) => `#### \`${t}\` (task queue \`${WORKFLOW_INPUTS[t].queue}\`)\n\n${inputTable(t)}`).join('\n\n'));
        return;
      }
      const out = Object.fromEntries(types.map((t) => [t, workflowJsonSchema(t)]));
      console.log(JSON.stringify(workflow ? out[workflow] : out, null, 2));
    });
}
