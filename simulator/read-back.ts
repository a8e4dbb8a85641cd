/**
 * @module Reads an endpoint's membership back through the read API (docs/design.md):
 * `GET /cohorts/:cohort_id/members?limit=&cursor=`, following `next_cursor` to the end.
 */
import { redactToken } from './redact.ts';

/** A member as the endpoint lists it; fields are kept as sent, for the comparison to judge. */
export interface ListedMember {
  userId: string;
  since: unknown;
  properties: unknown;
}

export interface ListedCohort {
  members: Map<string, ListedMember>;
  /** User ids listed more than once across pages (a paging bug). */
  listedTwice: string[];
}

/** The read API answered something other than a members page, or nothing at all. */
export class ReadBackError extends Error {
  override name = 'ReadBackError';
  constructor(
    message: string,
    /** What to change so the read can work, when the failure says it. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

export interface ReadBackOptions {
  /** The read API's base URL; its path prefixes `/cohorts/…` and its query (a `?token=`) is kept. */
  readUrl: string;
  headers: Record<string, string>;
  timeoutMs: number;
  fetch?: typeof globalThis.fetch;
}

const pageLimit = 1000;
/** A cursor that never ends would loop for ever; no simulated cohort needs this many pages. */
const maxPages = 100_000;

/**
 * Every member of one cohort. Any answer but 200 means the membership cannot be read (no read API
 * there, a refused token), never an empty cohort: counting it as one would report every message
 * as dropped.
 */
export async function readCohortMembers(cohortId: string, options: ReadBackOptions): Promise<ListedCohort> {
  const fetch = options.fetch ?? globalThis.fetch;
  const members = new Map<string, ListedMember>();
  const listedTwice: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const url = membersUrl(options.readUrl, cohortId, cursor);
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        headers: { accept: 'application/json', ...options.headers },
        signal: AbortSignal.timeout(Math.max(options.timeoutMs, 10_000)),
      });
      text = await response.text();
    } catch (error) {
      throw new ReadBackError(
        `GET ${redactToken(url)} failed: ${networkErrorDetail(error)}`,
        "nothing answered there: check --read-url (default: the webhook URL's origin)",
      );
    }
    if (response.status !== 200) {
      throw new ReadBackError(
        `GET ${redactToken(url)} answered ${response.status}: ${text.slice(0, 300)}`,
        hintFor(response.status),
      );
    }
    const body = parsePage(text, url);
    for (const member of body.members) {
      if (members.has(member.userId)) listedTwice.push(member.userId);
      else members.set(member.userId, member);
    }
    if (body.nextCursor === null) return { members, listedTwice };
    if (body.nextCursor === cursor)
      throw new ReadBackError(`GET ${redactToken(url)} returned its own cursor again`);
    cursor = body.nextCursor;
  }
  throw new ReadBackError(`cohort ${cohortId}: still paging after ${maxPages} pages`);
}

function hintFor(status: number): string | undefined {
  if (status === 404) {
    return 'point --read-url at a process that serves the read API (ROLE=all or ROLE=worker); a ROLE=receiver process has none';
  }
  if (status === 401 || status === 403) {
    return "the read API refused the credentials: give its token as --read-url '…?token=' or with --header";
  }
  return undefined;
}

function networkErrorDetail(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/** `<base path>/cohorts/<id>/members?<base query>&limit=1000[&cursor=…]` */
export function membersUrl(readUrl: string, cohortId: string, cursor: string | null): string {
  const url = new URL(readUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/cohorts/${encodeURIComponent(cohortId)}/members`;
  url.searchParams.set('limit', String(pageLimit));
  if (cursor !== null) url.searchParams.set('cursor', cursor);
  return url.href;
}

function parsePage(text: string, url: string): { members: ListedMember[]; nextCursor: string | null } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ReadBackError(`GET ${redactToken(url)} did not answer JSON: ${text.slice(0, 300)}`);
  }
  const page = body as { members?: unknown; next_cursor?: unknown };
  if (!Array.isArray(page.members) || (page.next_cursor !== null && typeof page.next_cursor !== 'string')) {
    throw new ReadBackError(
      `GET ${redactToken(url)} answered ${text.slice(0, 300)}, not {"members":[…],"next_cursor":…}`,
    );
  }
  const members = page.members.map((entry: unknown) => {
    const member = entry as { user_id?: unknown; since?: unknown; user_properties?: unknown };
    if (typeof member.user_id !== 'string') {
      throw new ReadBackError(`GET ${redactToken(url)} listed a member without a string user_id`);
    }
    return { userId: member.user_id, since: member.since, properties: member.user_properties };
  });
  return { members, nextCursor: page.next_cursor };
}
