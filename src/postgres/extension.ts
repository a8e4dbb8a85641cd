/** @module STORE=postgres: membership in Postgres tables, in the schema KEY_PREFIX names. */
import { z } from 'zod';
import { defineExtension } from '../runtime/extension.ts';
import { postgresStoreRecipe } from './open-store.ts';

const settings = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .default('postgres://127.0.0.1:5432/postgres'),
});

export const postgres = defineExtension({
  name: 'postgres',
  settings,
  use({ DATABASE_URL }) {
    return {
      stores: {
        postgres: (config) =>
          postgresStoreRecipe({ connectionString: DATABASE_URL, keyPrefix: config.KEY_PREFIX }),
      },
    };
  },
});
