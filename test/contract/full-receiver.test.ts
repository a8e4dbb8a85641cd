/** The full receiver under the HTTP contract: on its defaults, and with the durable SQLite inbox. */
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, startReceiver } from '../../src/compose.ts';
import { createTempDir } from '../support/tmp.ts';
import { contractToken, describeHttpContract, type ServedReceiver } from './http.ts';

async function served(env: Record<string, string>): Promise<ServedReceiver> {
  const dir = await createTempDir('contract');
  const sqlitePath = join(dir.path, 'cohorts.db');
  const start = async (port: string): Promise<ServedReceiver> => {
    const config = loadConfig({
      PORT: port,
      HOST: '127.0.0.1',
      AUTH_TOKENS: contractToken,
      SQLITE_PATH: sqlitePath,
      ...env,
    });
    const receiver = await startReceiver(config, pino({ level: 'silent' }));
    // The contract's probes expect a ready receiver: its apply path warm.
    await receiver.ready;
    const stopReceiver = async () => {
      await receiver.shutdown();
    };
    return {
      url: receiver.url,
      async stop() {
        await stopReceiver();
        await dir.remove();
      },
      async restart() {
        await stopReceiver();
        return start(new URL(receiver.url).port);
      },
    };
  };
  return start('0');
}

describeHttpContract('the receiver on its defaults', () => served({}));
describeHttpContract('the receiver with QUEUE=sqlite', () => served({ QUEUE: 'sqlite' }), { durable: true });
