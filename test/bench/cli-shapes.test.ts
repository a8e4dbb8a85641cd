/**
 * `npm run bench -- --shape NAME` takes the names `npm run simulate` takes (one shared list) and
 * refuses any other, listing them. Each run is the real CLI against a port nothing listens on,
 * briefly: what is checked is the shape it sent, never a timing.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { payloadShapeList, payloadShapes } from '../../simulator/payload-shapes.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'bench/cli.ts', ...args],
      { cwd: root, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const brief = [
  ...['--url', 'http://127.0.0.1:1/webhook', '--no-baseline', '--no-pin', '--chart', '', '--quiet'],
  ...['--mode', 'saturate', '--duration', '0.2', '--warmup', '0', '--rounds', '1', '--users', '2'],
];

describe('npm run bench --shape', () => {
  it.each(payloadShapes)(
    'sends the %s shape, a name of the list the simulator shares',
    async (shape) => {
      const { code, stdout, stderr } = await bench([...brief, '--shape', shape]);
      // Every request is refused, so the verdict is FAIL (1); the run itself completed.
      expect(code, stderr).toBe(1);
      expect(JSON.parse(stdout).traffic.shape).toBe(shape);
    },
    60_000,
  );

  it('refuses an unknown shape, listing the names it takes', async () => {
    const { code, stderr } = await bench(['--shape', 'xml']);
    expect(code).toBe(2);
    expect(stderr).toContain(`--shape: expected one of ${payloadShapeList}, got 'xml'`);
    expect(payloadShapeList).toBe('default | user-ids-only | per-user-flags');
  });
});
