/**
 * @module How every MembershipStore answers `listMembers`: the page limit it accepts, the cursor it
 * hands out (the last user id listed, base64url of its UTF-8) and the page it builds from one row
 * more than the limit. Written once, so the four stores page alike.
 */
import type { Member, MembersPage } from './store.ts';

/** What `listMembers` is asked for: a page size and the previous page's `nextCursor`. */
export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

/** What a store reads for one page: the rows after `afterUserId` (from the first when undefined), `fetch` of them. */
export interface PageRead {
  afterUserId: string | undefined;
  /** The limit plus one: the extra row says whether another page follows. */
  fetch: number;
}

/**
 * A member as a store reads it back: user id, since (decimal text allowed), properties JSON ('' or
 * null: none), and the message id of the add that holds the register.
 */
export type MemberRow = [
  userId: string,
  since: number | string,
  propertiesJson: string | null,
  messageId: string,
];

/**
 * Checks the request and says what to read for it.
 * @throws RangeError when `limit` is not a positive integer.
 */
export function pageRead({ limit, cursor }: PageRequest): PageRead {
  assertPageLimit(limit);
  return { afterUserId: cursor === undefined ? undefined : decodeMemberCursor(cursor), fetch: limit + 1 };
}

/** The page for `rows`, read as {@link pageRead} said (up to `limit + 1` rows, in user id order). */
export function membersPage(rows: readonly MemberRow[], limit: number): MembersPage {
  const members = rows.slice(0, limit).map(
    ([userId, since, propertiesJson, messageId]): Member => ({
      userId,
      since: Number(since),
      messageId,
      properties: propertiesJson ? (JSON.parse(propertiesJson) as Record<string, unknown>) : null,
    }),
  );
  const last = members.at(-1);
  return { members, nextCursor: rows.length > limit && last ? encodeMemberCursor(last.userId) : null };
}

/** The opaque `nextCursor` of a members page: the last user id listed, base64url of its UTF-8. */
export function encodeMemberCursor(lastUserId: string): string {
  return Buffer.from(lastUserId, 'utf8').toString('base64url');
}

/** The user id a members cursor points after; a malformed cursor yields some id, never an error. */
export function decodeMemberCursor(cursor: string): string {
  return Buffer.from(cursor, 'base64url').toString('utf8');
}

/** Checks a page size the way every store does, so they reject the same values. */
function assertPageLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`Expected \`limit\` to be a positive integer, got \`${limit}\` (${typeof limit})`);
  }
}
