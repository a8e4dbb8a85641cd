import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryControl } from '../../src/sink-control/memory-control.ts';
import { createSqliteControl } from '../../src/sink-control/sqlite-control.ts';
import { change, controlStoreContract } from './control-contract.ts';

const directory = mkdtempSync(join(tmpdir(), 'sink-control-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;
const nextFile = () => {
  files += 1;
  return join(directory, `c${files}.db`);
};

controlStoreContract('memory', async () => createMemoryControl());
controlStoreContract('SQLite', async () => createSqliteControl(new Database(nextFile())));

describe('SQLite control store', () => {
  it('keeps pauses, holds and waiting changes across a reopen of the file', async () => {
    const path = join(directory, 'reopen.db');
    const first = new Database(path);
    const store = createSqliteControl(first);
    await store.pause('crm', { at: 1, by: 'ops' });
    await store.admit('crm', [change('a'), change('b')]);
    first.close();
    const again = createSqliteControl(new Database(path));
    expect((await again.state()).paused.crm).toEqual({ at: 1, by: 'ops' });
    expect((await again.waiting('crm', 10)).map((one) => one.change.userId)).toEqual(['a', 'b']);
  });
});
