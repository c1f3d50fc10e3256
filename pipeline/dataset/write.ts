import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ALL_PROMPTS } from '../../prompts/index.js';
import { LLM_STAGES, datasetConfig, stageModel, stageProvider } from '../config/index.js';
import { sha256 } from '../core/hash.js';
import { Rng } from '../core/rng.js';
import { writeFileAtomic } from '../core/files.js';
import { JsonlSink } from '../core/jsonl-sink.js';
import { writeDatasetCard } from '../export/card.js';
import { UsageLedger, type UsageRow } from '../llm/usage.js';
import { datasetTextTokens, manifestCost, questionTextTokens, usageSince } from '../cost/ledger.js';
import { pricesFor } from '../cost/prices.js';
import { Question, Session, User } from '../schemas/records.js';
import { type Runtime, STORE_DIR } from '../engine/runtime.js';
import { fillerPoolSize, targetsFor } from '../engine/units.js';
import { FillerConversation, buildHistory } from '../stages/histories.js';
import { PlanOutput } from '../stages/plan.js';
import { PreferencesStageOutput } from '../stages/preferences.js';
import { QuestionStageOutput } from '../stages/questions.js';
import { keys } from '../store/run-store.js';

export const GENERATOR = { name: 'personagen', version: '0.1.0' } as const;

interface Tally {
  [key: string]: number;
}
const bump = (t: Tally, k: string, n = 1) => {
  t[k] = (t[k] ?? 0) + n;
};
const sortKeys = (t: Tally): Tally => Object.fromEntries(Object.entries(t).sort(([a], [b]) => a.localeCompare(b)));

async function artifact<T>(
  rt: Runtime,
  key: string,
  schema: { safeParse: (v: unknown) => { success: boolean; data?: T } },
  usage: UsageLedger,
): Promise<T> {
  const a = await rt.store.get(key, schema as never);
  if (!a) throw new Error(`artifact ${key} is missing`);
  usage.merge(a.usage);
  return a.output as T;
}

/**
 * Writes the dataset from the run store: histories per user and size (streamed, one user at a
 * time), then questions.jsonl, users.jsonl and the manifest, each atomically. The manifest holds no
 * timestamps, so the same config and seed give the same bytes.
 */
export async function writeDataset(rt: Runtime, onUser?: (pid: number) => void): Promise<{ questions: number; files: number }> {
  const { config, dir } = rt;
  const usage = new UsageLedger();
  const pool: FillerConversation[] = [];
  for (let i = 0; i < fillerPoolSize(rt); i++) pool.push(await artifact(rt, keys.filler(i), FillerConversation, usage));

  // Streamed to temporary files and renamed into place at the end: memory stays flat with users.
  const questions = await JsonlSink.open(join(dir, 'questions.jsonl'));
  const users = await JsonlSink.open(join(dir, 'users.jsonl'));
  let questionTokens = 0;
  const files: Record<string, string> = {};
  const counts = {
    preferences: {} as Tally,
    sessions_by_purpose: {} as Tally,
    sessions_by_task: {} as Tally,
    questions_by_pref_type: {} as Tally,
    questions_by_who: {} as Tally,
    questions_by_updated: {} as Tally,
    questions_by_scenario: {} as Tally,
  };
  const drafts = { total: 0, accepted: 0, dropped_targets: 0, failed_by_filter: {} as Tally };
  const historyStats: Record<string, { count: number; tokens: number[]; filler_sessions: number }> = {};
  const scenarioUse: Tally = {};
  const verify: Tally = {};

  // Each user's share of the usage (the artifact keys name the user), for the cost block.
  const usageByUser: Array<{ user: number; usage: UsageRow[] }> = [];
  let sessionTokens = 0;
  try {
    for (let pid = 0; pid < config.users; pid++) {
      const usageBefore = usage.snapshot();
      const user = await artifact(rt, keys.user(pid), User, usage);
      const prefs = await artifact(rt, keys.preferences(pid), PreferencesStageOutput, usage);
      const plan = await artifact(rt, keys.plan(pid), PlanOutput, usage);
      const sessions: Session[] = [];
      for (const s of plan.sessions) sessions.push(await artifact(rt, keys.session(pid, s.session_id), Session, usage));
      const targets = await targetsFor(rt, pid);
      const drafted = [];
      for (const t of targets) {
        const q = await artifact(rt, keys.question(pid, t.pref_id), QuestionStageOutput, usage);
        drafts.total += q.drafts.length;
        for (const d of q.drafts) if (d.failed) bump(drafts.failed_by_filter, d.failed);
        if (q.question) {
          drafts.accepted++;
          drafted.push(q.question);
        } else drafts.dropped_targets++;
      }
      for (const p of prefs.preferences) bump(counts.preferences, p.kind);
      for (const [kind, v] of Object.entries(prefs.verify)) {
        bump(verify, `${kind}.asked`, v.asked);
        bump(verify, `${kind}.kept`, v.kept);
        bump(verify, `${kind}.duplicates`, v.duplicates);
        bump(verify, `${kind}.unknown_topic`, v.unknown_topic);
      }
      for (const s of sessions) {
        bump(counts.sessions_by_purpose, s.purpose);
        bump(counts.sessions_by_task, s.task_type);
        bump(scenarioUse, s.scenario_id);
      }
      const required = new Set(drafted.flatMap((q) => q.requires));
      const built = config.sizes.map((size) => {
        const h = buildHistory(
          { user, size, sessions, preferences: prefs.preferences, required, filler: pool },
          { rng: (...scope) => rtRng(rt, ...scope), tokenizer: rt.tokenizer },
        );
        return { size, ...h };
      });
      for (const { size, file } of built) {
        const rel = `histories/${size}/${pid}.json`;
        const text = JSON.stringify(file, null, 1);
        await writeFileAtomic(join(dir, rel), text);
        files[rel] = sha256(text);
        const st = (historyStats[size] ??= { count: 0, tokens: [], filler_sessions: 0 });
        st.count++;
        st.tokens.push(file.metadata.final_token_count);
        st.filler_sessions += file.metadata.num_filler_sessions;
      }
      for (const d of drafted) {
        const present = built.filter((b) => d.requires.every((sid) => b.placement.ranges[sid]));
        const { requires: _r, evidence_session, ...rest } = d;
        const q = Question.parse({
          ...rest,
          histories: Object.fromEntries(present.map((b) => [b.size, `histories/${b.size}/${pid}.json`])),
          evidence: {
            session_id: evidence_session,
            sha256: evidenceHash(sessions.find((s) => s.session_id === evidence_session)!.messages),
            messages: Object.fromEntries(present.map((b) => [b.size, b.placement.ranges[evidence_session]!])),
          },
          distance_tokens: Object.fromEntries(present.map((b) => [b.size, b.placement.distances[evidence_session]!])),
        });
        await questions.write(q);
        questionTokens += questionTextTokens(q, rt.tokenizer);
        bump(counts.questions_by_pref_type, q.pref_type);
        bump(counts.questions_by_who, q.who);
        bump(counts.questions_by_updated, String(q.updated));
        bump(counts.questions_by_scenario, q.conversation_scenario);
      }
      await users.write({ ...user, preferences: prefs.preferences });
      usageByUser.push({ user: pid, usage: usageSince(usageBefore, usage.snapshot()) });
      sessionTokens += sessions.reduce((n, s) => n + s.tokens, 0);
      onUser?.(pid);
    }
  } catch (error) {
    await questions.abort();
    await users.abort();
    throw error;
  }

  files['questions.jsonl'] = await questions.commit();
  files['users.jsonl'] = await users.commit();

  const uses = Object.values(scenarioUse).sort((a, b) => a - b);
  const prompts = ALL_PROMPTS.map((p) => ({ id: p.id, version: p.version, sha256: sha256(p.instructions) }));
  const models = Object.fromEntries(LLM_STAGES.map((s) => [s, { provider: stageProvider(config, s), model: stageModel(config, s) }]));
  const offlineStages = LLM_STAGES.filter((s) => stageProvider(config, s) === 'offline');
  const manifest = {
    generator: GENERATOR,
    seed: config.seed,
    config: datasetConfig(config),
    models,
    offline_text: offlineStages.length > 0 ? `template-made by the offline provider in stages: ${offlineStages.join(', ')}` : null,
    tokenizer: rt.tokenizer.name,
    prompts,
    counts: {
      users: config.users,
      questions: questions.lines,
      questions_per_user: Number((questions.lines / config.users).toFixed(2)),
      ...Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, sortKeys(v)])),
      preference_verify: sortKeys(verify),
      drafts: {
        ...drafts,
        failed_by_filter: sortKeys(drafts.failed_by_filter),
        acceptance_rate: drafts.total ? Number((drafts.accepted / drafts.total).toFixed(4)) : 0,
      },
    },
    histories: Object.fromEntries(
      Object.entries(historyStats).map(([size, st]) => [
        size,
        {
          files: st.count,
          min_tokens: Math.min(...st.tokens),
          max_tokens: Math.max(...st.tokens),
          mean_tokens: Math.round(st.tokens.reduce((a, b) => a + b, 0) / st.tokens.length),
          filler_sessions: st.filler_sessions,
        },
      ]),
    ),
    scenario_coverage: {
      catalog: rt.catalog.scenarios.length,
      used: uses.length,
      min_uses: uses[0] ?? 0,
      median_uses: uses[Math.floor(uses.length / 2)] ?? 0,
      max_uses: uses[uses.length - 1] ?? 0,
      uses: sortKeys(scenarioUse),
    },
    usage: summarizeUsage(usage.snapshot()),
    cost: manifestCost({
      prices: pricesFor(config),
      usage: usage.snapshot(),
      byUser: usageByUser,
      acceptedQuestions: questions.lines,
      textTokens: datasetTextTokens({ sessionTokens, filler: pool, questionTokens }),
    }),
    files: Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b))),
  };
  await writeFileAtomic(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  // The card is rendered from the manifest and questions.jsonl, after them; it is not in `files`
  // because people edit cards by hand before publishing, and that is no corruption.
  await writeDatasetCard(dir);
  return { questions: questions.lines, files: Object.keys(files).length + 1 };
}

function summarizeUsage(rows: UsageRow[]) {
  // Whether a response came from the cache depends on scheduling (a unit redone after a crash finds
  // its calls cached), not on the dataset: count every response the dataset was built from.
  const byStage = rows.map(({ cacheHits, calls, ...r }) => ({ ...r, calls: calls + cacheHits }));
  const total = byStage.reduce(
    (t, r) => ({
      calls: t.calls + r.calls,
      input_tokens: t.input_tokens + r.inputTokens,
      output_tokens: t.output_tokens + r.outputTokens,
      cache_read_tokens: t.cache_read_tokens + r.cacheReadTokens,
      cache_write_tokens: t.cache_write_tokens + r.cacheWriteTokens,
    }),
    { calls: 0, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 },
  );
  return { total, by_stage: byStage };
}

/** Hash of a session's messages as they appear in a history ({role, content} only). */
export function evidenceHash(messages: ReadonlyArray<{ role: string; content: string }>): string {
  return sha256(JSON.stringify(messages.map((m) => ({ role: m.role, content: m.content }))));
}

function rtRng(rt: Runtime, ...scope: Array<string | number>): Rng {
  return Rng.derive(rt.config.seed, ...scope);
}

export async function readManifest(dir: string): Promise<unknown> {
  return JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as unknown;
}

export { STORE_DIR };
