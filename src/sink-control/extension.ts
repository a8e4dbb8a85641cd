/**
 * @module Sink control (docs/sinks.md#pause-and-resume) as an extension: pause and resume, backfill
 * from the store, and the mass-exit guard, with their state and waiting changes kept beside the
 * queue. Delete this folder and its line in src/compose.ts: sinks then get every change at once.
 */
import { z } from 'zod';
import { defineExtension, type Home, type Receiver } from '../runtime/extension.ts';
import { integer } from '../runtime/settings.ts';
import { mountControlApi } from './api.ts';
import type { ControlStore } from './control-store.ts';
import { createControlGate } from './gate.ts';
import { createGuard } from './guard.ts';
import { createMemoryControl } from './memory-control.ts';
import { registerControlMetrics } from './metrics.ts';
import { createRedisControl } from './redis-control.ts';
import { type Runner, startRunner } from './runner.ts';
import { createSinkControl } from './service.ts';
import { createSqliteControl } from './sqlite-control.ts';

const settings = z.object({
  SINK_GUARD_WINDOW_SECONDS: integer(900, 1),
  SINK_GUARD_MAX_EXIT_RATIO: z.coerce
    .number()
    .gt(0, 'must be above 0')
    .max(1, 'must be at most 1 (a share of the members)')
    .default(0.5),
  SINK_GUARD_MIN_MEMBERS: integer(1000, 0),
});

type Settings = z.output<typeof settings>;

export const sinkControl = defineExtension({
  name: 'sink-control',
  settings,
  use: (own: Settings) => ({ attach: (receiver: Receiver) => attachSinkControl(receiver, own) }),
});

function attachSinkControl(receiver: Receiver, own: Settings): void {
  const { logger, store, sinks } = receiver;
  const control = openControl(receiver.home);
  let runner: Runner | undefined;
  const service = createSinkControl({
    control,
    routes: receiver.sinkRoutes,
    store,
    logger,
    onChange: () => runner?.wake(),
  });
  receiver.sinkControl = service;
  mountControlApi({
    app: receiver.app,
    auth: receiver.auth,
    control: service,
    authHeader: receiver.config.AUTH_HEADER,
    logger,
  });
  registerControlMetrics(receiver.registry, service);
  // Only a process that sends (has sinks and a store) guards, keeps and runs.
  if (store === undefined || sinks.length === 0) return;
  const guard = createGuard({
    control,
    store,
    settings: {
      windowMs: own.SINK_GUARD_WINDOW_SECONDS * 1000,
      maxExitRatio: own.SINK_GUARD_MAX_EXIT_RATIO,
      minMembers: own.SINK_GUARD_MIN_MEMBERS,
    },
    logger,
  });
  receiver.dispatcher.useGate(createControlGate(control, guard, () => runner?.wake()));
  runner = startRunner({
    control,
    dispatcher: receiver.dispatcher,
    store,
    routes: receiver.sinkRoutes,
    logger,
  });
  receiver.onClose(() => runner?.close());
}

function openControl(home: Home): ControlStore {
  if (home.kind === 'sqlite') return createSqliteControl(home.db);
  if (home.kind === 'redis') return createRedisControl(home.redis, home.keyPrefix);
  return createMemoryControl();
}
