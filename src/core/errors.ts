/**
 * @module The receiver's error family. Each error carries the status and reason it is answered
 * with, so one error handler (`http/error-answer.ts`) answers them all, and the log line, the
 * metric and the inspector read the same reason.
 */

/** An answer the receiver gives on purpose: an HTTP status, a reason and a JSON body saying why. */
export class ReceiverError extends Error {
  constructor(
    /** The HTTP status it is answered with. */
    readonly status: number,
    /** Why, in one word: the `reason` of the log line and of the metrics. */
    readonly reason: string,
    message: string = reason,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** The JSON body of the answer. */
  body(): Record<string, unknown> {
    return { error: this.reason };
  }

  /** Response headers beyond Content-Type, lower-case names. */
  headers(): Record<string, string> {
    return {};
  }
}

/** The secret is missing or wrong (401). */
export class UnauthorizedError extends ReceiverError {
  override name = 'UnauthorizedError';
  constructor() {
    super(401, 'unauthorized');
  }
}

/** The body is larger than MAX_BODY_BYTES; found while reading, before it is buffered whole (413). */
export class PayloadTooLargeError extends ReceiverError {
  override name = 'PayloadTooLargeError';
  constructor(readonly limit: number) {
    super(413, 'payload_too_large', `body exceeds ${limit} bytes`);
  }
  override body() {
    return { error: this.reason, limit: this.limit };
  }
  override headers() {
    // The rest of the body was never read: close the connection rather than read it.
    return { connection: 'close' };
  }
}

/** The body is not JSON, or not UTF-8 (400). `detail` is the parser's message, safe to show the sender. */
export class InvalidJsonError extends ReceiverError {
  override name = 'InvalidJsonError';
  constructor(readonly detail: string) {
    super(400, 'invalid_json', detail);
  }
  override body() {
    return { error: this.reason, detail: this.detail };
  }
}

export interface PayloadIssue {
  /** A dotted path into the body, e.g. `users.3.user_id`; empty for the root. */
  path: string;
  message: string;
}

/** The body is JSON but not a cohort batch (422). `issues` says where and why. */
export class PayloadError extends ReceiverError {
  override name = 'PayloadError';
  constructor(readonly issues: PayloadIssue[]) {
    super(422, 'invalid_payload', issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '));
  }
  override body() {
    return { error: this.reason, issues: this.issues };
  }
}

/** Why a retry can succeed: the queue is full, a backend is down, the process is stopping. */
export type UnavailableReason = 'queue_full' | 'backend_unavailable' | 'shutting_down';

/** Every {@link UnavailableReason}, for code that covers them all (the metric's zeroed series). */
export const unavailableReasons: readonly UnavailableReason[] = [
  'queue_full',
  'backend_unavailable',
  'shutting_down',
];

/** Not now, but a retry can succeed (503 with Retry-After), so Amplitude retries and nothing is lost. */
export class UnavailableError extends ReceiverError {
  override name = 'UnavailableError';
  declare readonly reason: UnavailableReason;
  constructor(
    reason: UnavailableReason,
    readonly retryAfterSeconds = 5,
    options?: ErrorOptions,
  ) {
    super(503, reason, reason, options);
  }
  override body() {
    return { error: 'unavailable', reason: this.reason };
  }
  override headers() {
    return { 'retry-after': String(this.retryAfterSeconds) };
  }
}

/**
 * The store cannot be reached now (connection refused or lost, the server shutting down): a pause,
 * not a refusal. Each store maps its own errors to it, so the worker waits for the store instead of
 * spending a batch's attempts, and the read API answers 503 `backend_unavailable`.
 */
export class StoreUnavailableError extends UnavailableError {
  override name = 'StoreUnavailableError';
  constructor(message: string, options?: ErrorOptions) {
    super('backend_unavailable', 5, options);
    this.message = message;
  }
}

/**
 * The client closed, reset or timed out its connection before the body ended (400). Nobody reads
 * the answer; it is logged as a rejected request, never as our error.
 */
export class IncompleteBodyError extends ReceiverError {
  override name = 'IncompleteBodyError';
  constructor(message: string, options?: ErrorOptions) {
    super(400, 'incomplete_body', message, options);
  }
}

/** A path the receiver serves, asked with a method it does not (405, RFC 9110 section 15.5.6). */
export class MethodNotAllowedError extends ReceiverError {
  override name = 'MethodNotAllowedError';
  constructor(readonly allowed: string[]) {
    super(405, 'method_not_allowed', `allowed: ${allowed.join(', ')}`);
  }
  override body() {
    return { error: this.reason, allowed: this.allowed };
  }
  override headers() {
    return { allow: this.allowed.join(', ') };
  }
}

/** A query parameter out of range (400), e.g. `invalid_limit`. */
export class InvalidQueryError extends ReceiverError {
  override name = 'InvalidQueryError';
  constructor(
    reason: string,
    readonly detail: string,
  ) {
    super(400, reason, detail);
  }
  override body() {
    return { error: this.reason, detail: this.detail };
  }
}
