/**
 * @module `?after=<message_id>` on the read API: the answer waits, bounded, until that accepted
 * batch has been applied, so a client reads its own writes although apply is asynchronous.
 */
import type { MiddlewareHandler } from 'hono';
import { InvalidQueryError, ReceiverError, UnavailableError } from '../errors.ts';
import { awaitProgress } from '../queue/await-progress.ts';
import type { MessageProgress, Queue } from '../queue/queue.ts';
import type { AppEnv } from './app-env.ts';

/** Long enough for a large batch behind a small backlog, short of a client's or a proxy's timeout. */
export const readAfterTimeoutMs = 5000;

/** The batch named by `after` is not (yet) applied: 409, with the reason in one word. */
export class NotAppliedError extends ReceiverError {
  override name = 'NotAppliedError';
  constructor(
    reason: 'not_applied_yet' | 'unknown_message_id',
    readonly messageId: string,
    readonly detail: string,
  ) {
    super(409, reason, detail);
  }
  override body() {
    return { error: this.reason, message_id: this.messageId, detail: this.detail };
  }
}

export function readAfter(
  queue: Pick<Queue, 'progress'>,
  timeoutMs = readAfterTimeoutMs,
): MiddlewareHandler<AppEnv> {
  return async function waitForAfter(c, next) {
    const messageId = c.req.query('after');
    if (messageId === undefined) return next();
    c.get('logLine').after = messageId;
    if (messageId === '') throw new InvalidQueryError('invalid_after', 'after must be a message_id');
    const { progress } = queue;
    if (progress === undefined) {
      throw new InvalidQueryError('after_unsupported', 'this queue cannot tell whether a batch was applied');
    }
    let state: MessageProgress;
    try {
      state = await awaitProgress((id) => progress.call(queue, id), messageId, timeoutMs);
    } catch (error) {
      // The queue's backend cannot say (Redis away): a pause, as for the webhook, not our bug.
      throw new UnavailableError('backend_unavailable', 5, { cause: error });
    }
    if (state === 'waiting') {
      throw new NotAppliedError(
        'not_applied_yet',
        messageId,
        `accepted, not applied within ${timeoutMs / 1000} s; ask again`,
      );
    }
    if (state === 'unknown') {
      throw new NotAppliedError(
        'unknown_message_id',
        messageId,
        'no batch with this message_id was accepted (or its dedupe mark expired)',
      );
    }
    return next();
  };
}
