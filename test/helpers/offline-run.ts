import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConfigInput, loadConfig, readEnv } from '../../pipeline/config/index.js';
import { type Runtime, createRuntime } from '../../pipeline/engine/runtime.js';
import {
  fillerPoolSize,
  fillerUnit,
  planUnit,
  preferencesUnit,
  profileUnit,
  questionUnit,
  sessionUnit,
  targetsFor,
} from '../../pipeline/engine/units.js';
import type { Session, User } from '../../pipeline/schemas/records.js';
import type { FillerConversation } from '../../pipeline/stages/histories.js';
import type { PlanOutput } from '../../pipeline/stages/plan.js';
import type { PreferencesStageOutput } from '../../pipeline/stages/preferences.js';
import type { QuestionStageOutput, Target } from '../../pipeline/stages/questions.js';

/** An environment with no keys at all: nothing a test does may depend on the machine's variables. */
export const NO_KEYS = readEnv({});

/** A fresh directory under the system temp dir; remove it with `removeDir`. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `personagen-${prefix}-`));
}

export function removeDir(dir: string | undefined): Promise<void> {
  return dir ? rm(dir, { recursive: true, force: true }) : Promise.resolve();
}

/** A runtime on the offline provider, writing its run store under `dir`. */
export async function offlineRuntime(dir: string, overrides: ConfigInput): Promise<Runtime> {
  const { config } = await loadConfig({ overrides: { ...overrides, out: dir }, env: NO_KEYS, cwd: dir });
  return createRuntime(config, dir, { env: NO_KEYS });
}

export interface UserRun {
  user: User;
  prefs: PreferencesStageOutput;
  plan: PlanOutput;
  sessions: Session[];
  targets: Target[];
  questions: QuestionStageOutput[];
}

/** Runs every unit of one user in order, the way the local executor does. */
export async function runUser(rt: Runtime, pid: number, until: 'preferences' | 'sessions' | 'questions' = 'questions'): Promise<UserRun> {
  const user = await profileUnit(rt, pid);
  const prefs = await preferencesUnit(rt, pid);
  const empty = { plan: { sessions: [] }, sessions: [], targets: [], questions: [] };
  if (until === 'preferences') return { user, prefs, ...empty };
  const plan = await planUnit(rt, pid);
  const sessions = await Promise.all(plan.sessions.map((s) => sessionUnit(rt, pid, s)));
  if (until === 'sessions') return { user, prefs, plan, sessions, targets: [], questions: [] };
  const targets = await targetsFor(rt, pid);
  const questions = await Promise.all(targets.map((t) => questionUnit(rt, pid, t)));
  return { user, prefs, plan, sessions, targets, questions };
}

/** The filler pool the dataset writer would use for this runtime's sizes. */
export function fillerPool(rt: Runtime): Promise<FillerConversation[]> {
  return Promise.all(Array.from({ length: fillerPoolSize(rt) }, (_, i) => fillerUnit(rt, i)));
}
