/** @module Collects payload issues up to a cap and words them, so even a 100,000-user bad batch makes a short error. */
import { PayloadError, type PayloadIssue } from '../errors.ts';

/** How many issues one PayloadError reports; checking stops once this many are found. */
export const maxReportedIssues = 20;

/** A capped list of `{path, message}` issues; the parsers stop checking once it is full. */
export class IssueCollector {
  readonly #issues: PayloadIssue[] = [];

  add(path: string, message: string): void {
    if (this.#issues.length < maxReportedIssues) this.#issues.push({ path, message });
  }

  get isFull(): boolean {
    return this.#issues.length >= maxReportedIssues;
  }

  get isEmpty(): boolean {
    return this.#issues.length === 0;
  }

  /** The error to throw, saying so when checking stopped early. */
  toError(): PayloadError {
    const issues = [...this.#issues];
    if (this.isFull) {
      issues.push({
        path: '',
        message: `stopped checking after ${maxReportedIssues} issues; there may be more`,
      });
    }
    return new PayloadError(issues);
  }
}

/** Words a type mismatch: `is required` when the key is absent, else `must be X, got Y`. */
export function mustBe(expectation: string, value: unknown): string {
  return value === undefined ? 'is required' : `must be ${expectation}, got ${describeType(value)}`;
}

/** Names a JSON value's type for a message: `null`, `an array`, `a string`, … */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' ? 'an object' : `a ${type}`;
}

/** Quotes text for a message, cut to a readable length: keys and ids come from the sender. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/** True for a JSON object: not null and not an array. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
