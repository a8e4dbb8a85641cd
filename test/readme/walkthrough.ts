/**
 * @module Reads a walk-through out of the README: the shell blocks of a section, cut into commands,
 * each with the answer shown under it as `# …` lines. The test runs exactly these commands, so the
 * README cannot drift from what the receiver does.
 */

/** One command of a shell block and the answer the README shows for it, if any. */
export interface Step {
  /** The command as written, possibly over several lines (an open quote or a trailing `\`). */
  command: string;
  /** The `# ` lines right under the command, joined without their `# ` prefix. */
  answer: string | undefined;
  /** 1-based line of the command in the block, for failure messages. */
  line: number;
}

/** The text of `## heading` up to the next `## ` heading. */
export function sectionOf(markdown: string, heading: string): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.trim() === `## ${heading}`);
  if (start === -1) throw new Error(`no "## ${heading}" section`);
  const end = lines.findIndex((line, index) => index > start && line.startsWith('## '));
  return lines.slice(start + 1, end === -1 ? undefined : end).join('\n');
}

/** The bodies of the fenced ```sh blocks of `markdown`, in order. */
export function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '');
}

/**
 * Cuts a shell block into commands. A `#` line directly under a command (or under another such
 * line) is part of its answer; a `#` line anywhere else is a comment and ignored.
 */
export function stepsOf(block: string): Step[] {
  const steps: Step[] = [];
  let pending: { lines: string[]; line: number } | undefined;
  let answerOf: { step: Step; lines: string[] } | undefined;
  const closeAnswer = () => {
    if (answerOf && answerOf.lines.length > 0) answerOf.step.answer = answerOf.lines.join('\n');
    answerOf = undefined;
  };
  for (const [index, text] of block.split('\n').entries()) {
    if (pending) {
      pending.lines.push(text);
    } else if (text.trim() === '') {
      closeAnswer();
      continue;
    } else if (text.startsWith('#')) {
      answerOf?.lines.push(text.replace(/^# ?/, ''));
      continue;
    } else {
      closeAnswer();
      pending = { lines: [text], line: index + 1 };
    }
    const command = pending.lines.join('\n');
    if (isComplete(command)) {
      const step: Step = { command, answer: undefined, line: pending.line };
      steps.push(step);
      answerOf = { step, lines: [] };
      pending = undefined;
    }
  }
  if (pending) throw new Error(`unterminated command at line ${pending.line}: ${pending.lines[0]}`);
  closeAnswer();
  return steps;
}

/** True when no quote is left open and the text does not end with a line continuation. */
export function isComplete(command: string): boolean {
  let quote: "'" | '"' | undefined;
  for (let index = 0; index < command.length; index += 1) {
    const char = command[index];
    if (quote === "'") {
      if (char === "'") quote = undefined;
    } else if (char === '\\') {
      if (index === command.length - 1) return false;
      index += 1;
    } else if (quote === '"') {
      if (char === '"') quote = undefined;
    } else if (char === "'" || char === '"') {
      quote = char;
    }
  }
  return quote === undefined;
}

/** `NAME=value` at the start of a command: a shell variable the later commands use. */
export const isAssignment = (command: string) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(command);

/**
 * The environment of a start line `A=1 B=2 npm start` (plain values only: no quotes, no expansion),
 * or undefined when the line is not of that form.
 */
export function startLineEnv(command: string): Record<string, string> | undefined {
  const match = /^((?:[A-Z_][A-Z0-9_]*=[^\s'"$`\\]*\s+)*)npm start$/.exec(command.trim());
  if (!match) return undefined;
  const assignments = (match[1] ?? '').trim().split(/\s+/).filter(Boolean);
  return Object.fromEntries(
    assignments.map((assignment) => {
      const equals = assignment.indexOf('=');
      return [assignment.slice(0, equals), assignment.slice(equals + 1)];
    }),
  );
}
