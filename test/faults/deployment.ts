/**
 * @module A deployment of real receiver processes for the fault tests: one process (ROLE=all), or
 * the split (one ROLE=receiver taking webhooks, two ROLE=worker applying and serving the read API),
 * all on the environment given. Each process's JSON log lines are kept, to count `batch applied`.
 */
import pg from 'pg';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import { schemaNameFor } from '../../src/postgres/schema.ts';
import { postgresConnection, type ServiceProbe } from '../support/services.ts';

export type Topology = 'one process' | 'receiver + 2 workers';

export interface Deployment {
  /** Where the webhook is posted. */
  webhookUrl: string;
  /** Where the read API is read (a worker in the split). */
  readUrl: string;
  /** The processes that apply: the one process, or the two workers. */
  workers: ReceiverProcess[];
  all: ReceiverProcess[];
  /** SIGKILL to every process still running. */
  kill(): Promise<void>;
}

export async function startDeployment(topology: Topology, env: Record<string, string>): Promise<Deployment> {
  const all: ReceiverProcess[] = [];
  const start = async (role: string) => {
    const process = await startReceiverProcess({ env: { SINKS: 'none', ...env, ROLE: role } });
    all.push(process);
    return process;
  };
  const kill = async () => {
    for (const process of all) {
      process.child.kill('SIGKILL');
      await process.exited;
    }
  };
  try {
    if (topology === 'one process') {
      const one = await start('all');
      return { webhookUrl: one.url, readUrl: one.url, workers: [one], all, kill };
    }
    const workers = await Promise.all([start('worker'), start('worker')]);
    const receiver = await start('receiver');
    return { webhookUrl: receiver.url, readUrl: (workers[0] as ReceiverProcess).url, workers, all, kill };
  } catch (error) {
    await kill();
    throw error;
  }
}

/** The message_ids a process logged `batch applied` for, in order. */
export const appliedBy = (process: ReceiverProcess) =>
  process.logLines.filter((line) => line.msg === 'batch applied').map((line) => String(line.message_id));

/** Drops the Postgres schema a KEY_PREFIX names (STORE=postgres keeps its tables there). */
export async function dropPostgresSchema(keyPrefix: string): Promise<void> {
  const admin = new pg.Client(postgresConnection());
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${schemaNameFor(keyPrefix)}" CASCADE`);
  } finally {
    await admin.end();
  }
}

/** DATABASE_URL for a child process: the tests' Postgres, with the user name spelled out. */
export const postgresUrlForProcesses = () => String(postgresConnection().connectionString);

/** One probe for a suite that needs every service probed: available when all are. */
export function allOf(...probes: ServiceProbe[]): ServiceProbe {
  const missing = probes.filter((probe) => !probe.available);
  return {
    name: missing.map((probe) => probe.name).join(' and ') || probes.map((probe) => probe.name).join(' and '),
    available: missing.length === 0,
    reason: missing.map((probe) => `${probe.name}: ${probe.reason}`).join('; '),
    notBuilt: missing.some((probe) => probe.notBuilt),
  };
}
