/** @module What the durability tests send and how they read the outcome back. */

export interface SentBatch {
  messageId: string;
  cohortId: string;
  body: string;
  users: string[];
}

/** An Amplitude default-shape body adding `users` to `cohortId`. */
export function addBody(cohortId: string, messageId: string, users: string[], computedTime = 1_700_000_000) {
  return JSON.stringify({
    cohort_name: `Cohort ${cohortId}`,
    cohort_id: cohortId,
    in_cohort: true,
    computed_time: String(computedTime),
    message_id: messageId,
    users: users.map((userId) => ({ user_id: userId, user_properties: { plan: 'pro' } })),
  });
}

export interface PostResult {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
  ms: number;
}

/** POSTs a body; a dropped connection (the receiver was killed) resolves with status 0. */
export async function post(url: string, body: string): Promise<PostResult> {
  const started = performance.now();
  try {
    const response = await fetch(`${url}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
      headers: response.headers,
      ms: performance.now() - started,
    };
  } catch {
    return { status: 0, body: {}, headers: new Headers(), ms: performance.now() - started };
  }
}

/** The cohorts a user is in, as the read API reports them. */
export async function cohortsOf(url: string, userId: string): Promise<string[]> {
  const response = await fetch(`${url}/users/${encodeURIComponent(userId)}/cohorts`);
  const body = (await response.json()) as { cohorts: { cohort_id: string }[] };
  return body.cohorts.map((cohort) => cohort.cohort_id);
}

/** Polls `condition` every 50 ms; rejects with `what` after `timeoutMs`. */
export async function eventually(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
