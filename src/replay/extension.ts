/** @module Dead-letter replay in the running receiver (the inspector's buttons), as `npm run dlq -- replay` does it. */
import { defineExtension } from '../runtime/extension.ts';
import { batchParserFor } from '../runtime/receiver.ts';
import { replayLetter } from './replay-letter.ts';

export const replay = defineExtension({
  name: 'replay',
  use() {
    return {
      attach(receiver) {
        const { queue, store, sinks, logger } = receiver;
        const parseBatch = batchParserFor(receiver.config);
        receiver.replay = (letter) =>
          replayLetter(letter, { queue, store, parseBatch, sinkReplay: () => ({ sinks, logger }) });
      },
    };
  },
});
