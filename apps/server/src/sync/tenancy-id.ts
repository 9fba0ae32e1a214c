import { createHash } from 'node:crypto';

/**
 * The `tenancy_id` UUID of `_stack_sync_metadata` for a (project, branch):
 * a name-based UUID (SHA-256, version nibble 8), stable across servers.
 *
 * @example
 * tenancyId('5b0c…', 'main'); // "3f2a…-…"
 */
export function tenancyId(projectId: string, branchId: string): string {
  const hex = createHash('sha256').update(`${projectId}:${branchId}`).digest('hex').slice(0, 32).split('');
  hex[12] = '8';
  hex[16] = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
