/** `npm run example:minimal`, the core alone, answers the HTTP contract the full receiver does. */
import { spawn } from 'node:child_process';
import { freePort, repositoryRoot } from '../../bench/receiver-process.ts';
import { contractToken, describeHttpContract, type ServedReceiver } from './http.ts';

async function startExample(): Promise<ServedReceiver> {
  const port = await freePort();
  // Its own process group, so a stop reaches node under npm as well.
  const child = spawn('npm', ['run', '--silent', 'example:minimal'], {
    cwd: repositoryRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), AUTH_TOKENS: contractToken },
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  for (let tries = 0; ; tries += 1) {
    const up = await fetch(`${url}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (up) break;
    if (tries > 600 || child.exitCode !== null)
      throw new Error(`the minimal example did not start:\n${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    async stop() {
      process.kill(-(child.pid as number), 'SIGTERM');
      await exited;
    },
  };
}

describeHttpContract('npm run example:minimal', startExample);
