/** @module A refused configuration: one plain line per bad variable, printed as it is. */

/** A configuration variable is missing or malformed, and what is wrong with it. */
export interface ConfigIssue {
  variable: string;
  message: string;
}

/** e.g. `invalid configuration: PORT: must be an integer from 0 to 65535`. */
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

/** The issues of a failed zod parse, one per variable (the first path element). */
export function issuesOf(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): ConfigIssue[] {
  return error.issues.map((issue) => ({ variable: String(issue.path[0] ?? '*'), message: issue.message }));
}
