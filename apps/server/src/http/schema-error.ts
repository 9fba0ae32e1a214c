import type { z } from 'zod';
import { SchemaError } from '@sightline/protocol';

type Issue = z.core.$ZodIssue & { input?: unknown };

/**
 * Formats a path the way Stack Auth (yup) does: `body.events[0].event_type`.
 *
 * @example
 * formatPath('body', ['events', 0, 'event_type']); // "body.events[0].event_type"
 */
export function formatPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `.${String(part)}`;
  return out;
}

/** One human sentence per problem, in Stack Auth's (yup's) wording. */
export function describeIssue(root: string, issue: Issue): string {
  const path = formatPath(root, issue.path);
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `${path} must be defined`;
      if (issue.expected === 'int') return `${path} must be an integer`;
      return `${path} must be a \`${issue.expected}\` type, but the final value was: \`${preview(issue.input)}\`.`;
    case 'too_small':
      if (issue.origin === 'array' || issue.origin === 'set') return `${path} field must have at least ${issue.minimum} items`;
      if (issue.origin === 'string') return `${path} must be at least ${issue.minimum} characters`;
      return `${path} must be greater than ${issue.inclusive ? 'or equal to ' : ''}${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'array' || issue.origin === 'set') {
        return `${path} field must have less than or equal to ${issue.maximum} items`;
      }
      if (issue.origin === 'string') return `${path} must be at most ${issue.maximum} characters`;
      return `${path} must be less than ${issue.inclusive ? 'or equal to ' : ''}${issue.maximum}`;
    case 'invalid_value':
      return `${path} must be one of the following values: ${issue.values.map(String).join(', ')}`;
    case 'unrecognized_keys':
      return `${path} field has unspecified keys: ${issue.keys.join(', ')}`;
    case 'invalid_union':
      return `${path} is invalid`;
    default:
      // Custom and format checks carry their own message, e.g. "Invalid batch_id";
      // `{path}` in it stands for the field's path.
      if (issue.message.startsWith('Invalid input')) return `${path} is invalid`;
      return issue.message.replaceAll('{path}', path);
  }
}

/**
 * Parses one part of a request, throwing `SCHEMA_ERROR` that lists every problem.
 *
 * @example
 * const body = parseRequestPart('body', schema, request.body, 'POST /api/v1/users');
 */
export function parseRequestPart<T>(root: string, schema: z.ZodType<T>, value: unknown, route: string): T {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  throw schemaErrorFrom(route, result.error.issues.map((issue) => describeIssue(root, issue as Issue)));
}

/** `SCHEMA_ERROR` with Stack Auth's layout: a headline, then one problem per line. */
export function schemaErrorFrom(route: string, problems: readonly string[]): InstanceType<typeof SchemaError> {
  return new SchemaError(`Request validation failed on ${route}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // Too deeply nested to print (the stack runs out first): name the type instead.
    text = Array.isArray(value) ? '[…]' : typeof value === 'object' ? '{…}' : typeof value;
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
