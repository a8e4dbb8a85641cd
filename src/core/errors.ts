/** @module The few error classes the receiver throws on purpose; `http/errors.ts` maps them to responses. */

/** A configuration variable is missing or malformed, and what is wrong with it. */
export interface ConfigIssue {
  variable: string;
  message: string;
}

/**
 * The configuration was refused. The message is one plain line per bad variable, e.g.
 * `invalid configuration: PORT: must be an integer from 0 to 65535`, printed as it is.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly issues: readonly ConfigIssue[]) {
    // A variable with several problems still gets one line.
    const byVariable = new Map<string, string[]>();
    for (const { variable, message } of issues) {
      const messages = byVariable.get(variable) ?? [];
      if (!messages.includes(message)) messages.push(message);
      byVariable.set(variable, messages);
    }
    super(
      [...byVariable]
        .map(([variable, messages]) => `invalid configuration: ${variable}: ${messages.join('; ')}`)
        .join('\n'),
    );
  }
}

/** The body is JSON but not a cohort batch. `issues` says where and why. */
export class PayloadError extends Error {
  override name = 'PayloadError';
  constructor(readonly issues: PayloadIssue[]) {
    super(issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '));
  }
}

export interface PayloadIssue {
  /** A dotted path into the body, e.g. `users.3.user_id`; empty for the root. */
  path: string;
  message: string;
}

/**
 * The receiver cannot accept right now but a retry can succeed: queue full, a backend down,
 * shutting down. Answered with 503 and `Retry-After`, so Amplitude retries and nothing is lost.
 */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
  constructor(
    readonly reason: 'queue_full' | 'backend_unavailable' | 'shutting_down',
    readonly retryAfterSeconds = 5,
    options?: ErrorOptions,
  ) {
    super(reason, options);
  }
}

/** The body is larger than MAX_BODY_BYTES; found while reading, before it is buffered whole. */
export class PayloadTooLargeError extends Error {
  override name = 'PayloadTooLargeError';
  constructor(readonly limit: number) {
    super(`body exceeds ${limit} bytes`);
  }
}

/** The body is not JSON (or not UTF-8). `detail` is the parser's message, safe to show the sender. */
export class InvalidJsonError extends Error {
  override name = 'InvalidJsonError';
  constructor(readonly detail: string) {
    super(detail);
  }
}

/**
 * The client closed, reset or timed out its connection before the body ended. Nobody waits for an
 * answer; it is logged as a rejected request, never as our error.
 */
export class IncompleteBodyError extends Error {
  override name = 'IncompleteBodyError';
}
