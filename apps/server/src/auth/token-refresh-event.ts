import type { EventRow } from '../storage/clickhouse/events.ts';
import type { IpInfo } from './geoip.ts';
import type { Tenancy } from './users.ts';

/**
 * The `$token-refresh` row written at every access-token mint, analytics
 * enabled or not: data is exactly `{refresh_token_id, is_anonymous, ip_info}`.
 *
 * @example
 * tokenRefreshEvent(tenancy, { userId, refreshTokenId, isAnonymous: false }, null, Date.now());
 */
export function tokenRefreshEvent(
  tenancy: Tenancy,
  session: { userId: string; refreshTokenId: string; isAnonymous: boolean },
  ipInfo: IpInfo | null,
  at: number,
): EventRow {
  return {
    event_type: '$token-refresh',
    event_at: at,
    data: { refresh_token_id: session.refreshTokenId, is_anonymous: session.isAnonymous, ip_info: ipInfo },
    project_id: tenancy.projectId,
    branch_id: tenancy.branchId,
    user_id: session.userId,
    team_id: null,
    refresh_token_id: session.refreshTokenId,
    session_replay_id: null,
    session_replay_segment_id: null,
  };
}
