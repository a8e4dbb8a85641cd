/**
 * Vitest's global setup: compiles src/ to dist/ once, as `npm start` does, before any test runs.
 * The tests that run `npm start` (or a bench that runs dist/) then find dist/ current and write
 * nothing, so no test reads a file of dist/ while another test's compile rewrites it.
 */
import { compiledReceiver } from '../../bench/receiver-process.ts';

export default function compileOnce(): void {
  compiledReceiver();
}
