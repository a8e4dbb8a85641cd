import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSink } from '../../src/runtime/sink-settings.ts';
import type { WireChange } from '../../src/sinks/http.ts';
import { ndjsonFileSink } from '../../src/sinks/ndjson-file.ts';
import { createTempDir } from '../support/tmp.ts';
import { describeSinkContract } from './contract.ts';

describeSinkContract('ndjson-file', async () => {
  // A real file in a fresh folder.
  const dir = await createTempDir('ndjson-sink');
  const path = join(dir.path, 'changes.ndjson');
  return {
    // Built from its variables, as start-up builds it.
    sink: buildSink(ndjsonFileSink, { SINK_NDJSON_FILE_PATH: path, SINK_NDJSON_FILE_BATCH_SIZE: '50' }),
    // What the file holds, read back as (idempotency key, user, state to set).
    observed: () =>
      readFileSync(path, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as WireChange)
        .map((change) => ({ key: change.key, userId: change.user_id, inCohort: change.in_cohort })),
    cleanup: () => dir.remove(),
  };
});
