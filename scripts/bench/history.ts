/**
 * History assembly: buildHistory (pipeline/stages/histories.ts) on one user's stored sessions and
 * the run's filler pool, read from a generated run's store the way writeDataset reads them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ConfigInput, loadConfig } from '../../pipeline/config/index.js';
import { Rng } from '../../pipeline/core/rng.js';
import { STORE_DIR, createRuntime } from '../../pipeline/engine/runtime.js';
import { fillerPoolSize, targetsFor } from '../../pipeline/engine/units.js';
import { Session, User } from '../../pipeline/schemas/records.js';
import { FillerConversation, buildHistory } from '../../pipeline/stages/histories.js';
import { PlanOutput } from '../../pipeline/stages/plan.js';
import { PreferencesStageOutput } from '../../pipeline/stages/preferences.js';
import { QuestionStageOutput } from '../../pipeline/stages/questions.js';
import { keys } from '../../pipeline/store/run-store.js';
import { median, repeat, timeSync } from './measure.js';
import { type Row, num, runsLabel } from './table.js';

export async function benchHistory(
  dir: string,
  options: { size: string; pid: number; budgetMs: number; maxRuns: number; usersPerExtrapolation: number },
): Promise<Row> {
  const stored = JSON.parse(await readFile(join(dir, STORE_DIR, 'config.json'), 'utf8')) as ConfigInput;
  const { config } = await loadConfig({ overrides: { ...stored, out: dir }, cwd: dir });
  const rt = createRuntime(config, dir);
  const need = async <T>(key: string, schema: { safeParse: (v: unknown) => { success: boolean; data?: T } }): Promise<T> => {
    const a = await rt.store.get(key, schema as never);
    if (!a) throw new Error(`${dir}: artifact ${key} is missing`);
    return a.output as T;
  };
  const pid = options.pid;
  const user = await need(keys.user(pid), User);
  const prefs = await need(keys.preferences(pid), PreferencesStageOutput);
  const plan = await need(keys.plan(pid), PlanOutput);
  const sessions: Session[] = [];
  for (const s of plan.sessions) sessions.push(await need(keys.session(pid, s.session_id), Session));
  const required = new Set<string>();
  for (const t of await targetsFor(rt, pid)) {
    const q = await need(keys.question(pid, t.pref_id), QuestionStageOutput);
    for (const sid of q.question?.requires ?? []) required.add(sid);
  }
  const pool: FillerConversation[] = [];
  for (let i = 0; i < fillerPoolSize(rt); i++) pool.push(await need(keys.filler(i), FillerConversation));

  const build = (filler: readonly FillerConversation[]) =>
    buildHistory(
      { user, size: options.size, sessions, preferences: prefs.preferences, required, filler },
      { rng: (...scope) => Rng.derive(config.seed, ...scope), tokenizer: rt.tokenizer },
    );
  // Cold: fresh filler objects, so the per-filler word sets (cached by object) are computed again,
  // as for the first user of a run; warm: the same pool again, as for every later user.
  const cold = await repeat(async () => timeSync(() => build(structuredClone(pool))).ms, {
    min: 3,
    max: 5,
    budgetMs: options.budgetMs / 3,
  });
  const warmBuild = build(pool);
  const warm = await repeat(async () => timeSync(() => build(pool)).ms, { min: 3, max: options.maxRuns, budgetMs: options.budgetMs / 2 });
  const coldMs = median(cold);
  const warmMs = median(warm);
  const n = options.usersPerExtrapolation;
  const perThousandS = (coldMs + (n - 1) * warmMs) / 1000;
  const meta = warmBuild.file.metadata;
  return {
    bench: 'history assembly',
    case: `one ${options.size} history (user ${pid}: ${sessions.length} sessions, ${pool.length} fillers in the pool)`,
    result: `${num(warmMs, 1)} ms (first of a run: ${num(coldMs, 1)} ms); ${num(meta.total_messages)} messages, ${num(meta.final_token_count)} tokens`,
    reference: '',
    ratio: '',
    runs: `${runsLabel(warm.length)} warm, ${runsLabel(cold.length)} cold`,
    figures: {
      size: options.size,
      warm_ms: Number(warmMs.toFixed(2)),
      cold_ms: Number(coldMs.toFixed(2)),
      messages: meta.total_messages,
      tokens: meta.final_token_count,
      fillers_in_pool: pool.length,
      extrapolated_s_per_1000_users: Number(perThousandS.toFixed(2)),
    },
  };
}

/** The per-1,000-users row, from the one-history row (an extrapolation, not a measurement). */
export function historyPerThousand(one: Row): Row {
  const s = Number(one.figures.extrapolated_s_per_1000_users);
  return {
    bench: 'history assembly',
    case: `per 1,000 users, one ${String(one.figures.size)} history each`,
    result: `${num(s, 1)} s (extrapolated: first + 999 x warm, not measured)`,
    reference: '',
    ratio: '',
    runs: 'derived',
    figures: { extrapolated: true, seconds: s },
  };
}
