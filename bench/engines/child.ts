/**
 * @module One engine's run, in a process of its own (so its peak RSS is its own): opens the engine
 * in `dir`, applies the workload group by group timing only `applyGroup`, closes it, reopens it to
 * read the member count and the sampled registers back, and prints one JSON line, {@link ChildResult}.
 * Progress goes to stderr. Run by cli.ts as `node --import tsx child.ts '<ChildPlan JSON>'`.
 */
import { writeFileSync } from 'node:fs';
import type { Register } from '../../src/core/store/register.ts';
import { createEngine, type EngineSpec, groupOption } from './engine.ts';
import { cpuSeconds, diskUsage, ioCounters, memoryStatus } from './measure.ts';
import {
  cohortId,
  groupPlans,
  materialize,
  type PhaseName,
  planWorkload,
  sampleUsers,
  userId,
  type WorkloadOptions,
} from './workload.ts';

export interface ChildPlan {
  spec: EngineSpec;
  dir: string;
  workload: WorkloadOptions;
  /** Batches per commit unless the spec says `group=N`. */
  group: number;
  sampleSize: number;
  /** Where to write the sampled registers: [userNumber, Register | null][]. */
  samplesFile: string;
}

export interface PhaseResult {
  users: number;
  batches: number;
  groups: number;
  /** Time inside applyGroup only. */
  seconds: number;
  usersPerSecond: number;
  /** CPU seconds of the whole process (every thread) during the phase, over its wall time. */
  cpuPerWall: number;
  /** Users per second over each tenth of the phase's users (fill only). */
  tenths?: number[];
  /** The slowest group's apply, ms. */
  maxGroupMs: number;
  /** Member count after the phase. */
  members: number;
}

export interface ChildResult {
  label: string;
  engine: string;
  group: number;
  phases: Partial<Record<PhaseName, PhaseResult>>;
  /** Bytes allocated to the engine's files right after the last phase, and after close. */
  bytesBeforeClose: number;
  bytesAfterClose: number;
  /** Their apparent size after close (larger for sparse files). */
  apparentBytesAfterClose: number;
  /** /proc/self/io write_bytes and wchar over the whole run (open to close), per user applied in the fill. */
  writeBytes: number;
  writeCallBytes: number;
  closeSeconds: number;
  /** How long opening the closed files again took (LevelDB replays its log into a table then). */
  reopenSeconds: number;
  memory: { peakKiB: number; baselineKiB: number; anonKiB: number; fileKiB: number };
  details: Record<string, unknown>;
  /** Member count read back after a reopen (after close for a non-persistent engine: the last count). */
  membersAfterReopen: number;
  sampled: number;
}

async function runChild(plan: ChildPlan): Promise<ChildResult> {
  const engine = await createEngine(plan.spec);
  const group = groupOption(plan.spec, plan.group);
  const plans = planWorkload(plan.workload);
  const groups = groupPlans(plans, group);
  const { properties } = plan.workload;

  await engine.open(plan.dir);
  const baseline = memoryStatus();
  const io = ioCounters();
  const phases: Partial<Record<PhaseName, PhaseResult>> = {};
  const phaseUsers = new Map<PhaseName, number>();
  for (const batch of plans)
    phaseUsers.set(batch.phase, (phaseUsers.get(batch.phase) ?? 0) + batch.users.length);

  let current:
    | { name: PhaseName; result: PhaseResult; cpu: number; tenthMs: number; tenthUsers: number }
    | undefined;
  const finishPhase = async () => {
    if (current === undefined) return;
    const { result } = current;
    result.usersPerSecond = Math.round(result.users / result.seconds);
    result.cpuPerWall = Math.round(((cpuSeconds() - current.cpu) / result.seconds) * 100) / 100;
    result.members = await engine.memberCount(cohortId);
    phases[current.name] = result;
    log(
      `${current.name} done: ${result.users} users in ${result.seconds.toFixed(1)} s, ${result.usersPerSecond} users/s, ${result.members} members`,
    );
    current = undefined;
  };

  for (const planned of groups) {
    const phase = (planned[0] as (typeof planned)[number]).phase;
    if (current?.name !== phase) {
      await finishPhase();
      current = {
        name: phase,
        result: {
          users: 0,
          batches: 0,
          groups: 0,
          seconds: 0,
          usersPerSecond: 0,
          cpuPerWall: 0,
          maxGroupMs: 0,
          members: 0,
        },
        cpu: cpuSeconds(),
        tenthMs: 0,
        tenthUsers: 0,
      };
      if (phase === 'fill') current.result.tenths = [];
    }
    const batches = planned.map((batch) => materialize(batch, properties)); // untimed
    const users = batches.reduce((sum, batch) => sum + batch.users.length, 0);
    const started = performance.now();
    await engine.applyGroup(batches);
    const took = performance.now() - started;

    const { result } = current;
    const tenthBefore = Math.floor((result.users * 10) / (phaseUsers.get(phase) ?? 1));
    result.users += users;
    result.batches += batches.length;
    result.groups += 1;
    result.seconds += took / 1000;
    result.maxGroupMs = Math.max(result.maxGroupMs, Math.round(took));
    current.tenthMs += took;
    current.tenthUsers += users;
    const tenthAfter = Math.floor((result.users * 10) / (phaseUsers.get(phase) ?? 1));
    if (result.tenths !== undefined && (tenthAfter > tenthBefore || result.users === phaseUsers.get(phase))) {
      const rate = Math.round(current.tenthUsers / (current.tenthMs / 1000));
      result.tenths.push(rate);
      log(
        `${phase} ${Math.min(100, tenthAfter * 10)}%: ${rate} users/s (${memoryStatus().rssKiB >> 10} MiB RSS)`,
      );
      current.tenthMs = 0;
      current.tenthUsers = 0;
    }
  }
  await finishPhase();

  const written = ioCounters();
  const details = (await engine.details?.()) ?? {};
  const bytesBeforeClose = engine.sizeOnDisk();
  const memory = memoryStatus();
  const closing = performance.now();
  await engine.close();
  const closeSeconds = (performance.now() - closing) / 1000;
  const bytesAfterClose = engine.sizeOnDisk();
  const apparentBytesAfterClose = diskUsage(plan.dir).bytes;

  // Read back: after a reopen, so what is checked is what the engine's files hold.
  const sample = sampleUsers(plans, plan.workload.users, plan.sampleSize, plan.workload.seed);
  let membersAfterReopen: number;
  let registers: (Register | undefined)[];
  let reopenSeconds = 0;
  if (engine.persistent) {
    const reopening = performance.now();
    await engine.open(plan.dir);
    reopenSeconds = (performance.now() - reopening) / 1000;
    membersAfterReopen = await engine.memberCount(cohortId);
    registers = await engine.readRegisters(cohortId, sample.map(userId));
    await engine.close();
  } else {
    membersAfterReopen = Object.values(phases).at(-1)?.members ?? 0;
    registers = await engine.readRegisters(cohortId, sample.map(userId));
  }
  writeFileSync(
    plan.samplesFile,
    JSON.stringify(sample.map((user, index) => [user, registers[index] ?? null])),
  );

  return {
    label: plan.spec.label,
    engine: engine.name,
    group,
    phases,
    bytesBeforeClose,
    bytesAfterClose,
    apparentBytesAfterClose,
    writeBytes: written.writeBytes - io.writeBytes,
    writeCallBytes: written.writeCalls - io.writeCalls,
    closeSeconds: Math.round(closeSeconds * 1000) / 1000,
    reopenSeconds: Math.round(reopenSeconds * 1000) / 1000,
    memory: {
      peakKiB: memory.peakKiB,
      baselineKiB: baseline.rssKiB,
      anonKiB: memory.anonKiB,
      fileKiB: memory.fileKiB,
    },
    details,
    membersAfterReopen,
    sampled: sample.length,
  };
}

let label = '';
function log(message: string) {
  process.stderr.write(`[${label}] ${message}\n`);
}

const plan = JSON.parse(process.argv[2] ?? '{}') as ChildPlan;
label = plan.spec.label;
try {
  console.log(JSON.stringify(await runChild(plan)));
} catch (error) {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
}
