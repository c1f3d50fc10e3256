import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One question of the synthetic dataset: the preference, its evidence session and the four options. */
export interface BankItem {
  statement: string;
  kind: 'stereotypical' | 'anti_stereotypical' | 'neutral' | 'health_and_medical';
  topic: string;
  who: 'self' | 'others';
  person: string | null;
  query: string;
  gold: string;
  distractors: [string, string, string];
  evidence: [string, string];
}

/** Twelve questions, four per user, written so that no blind heuristic finds the gold and nothing leaks. */
export const BANK: readonly BankItem[] = [
  {
    statement: 'Grows chili peppers in pots on a sunny balcony',
    kind: 'neutral',
    topic: 'gardening',
    who: 'self',
    person: null,
    query: 'What could I do this weekend to unwind?',
    gold: 'Repot the hottest seedlings into terracotta containers, pinch off early flowers, and mix compost into each.',
    distractors: [
      'Bake a loaf of sourdough from scratch, letting the dough rise slowly while you tidy the kitchen and brew tea.',
      'Put on a long documentary about deep ocean creatures and build a blanket nest on the sofa.',
      'Plan a slow morning: read a novel in bed, take a warm shower, then cook an easy lunch from what is left in the fridge.',
    ],
    evidence: [
      'The aphids are back on the leaves again, and the fruit on the tallest plant has started turning red. Should I harvest now or wait?',
      'Pick them once they are fully red and firm; rinse the leaves with a gentle spray of water every few days to keep the aphids down.',
    ],
  },
  {
    statement: 'Swims laps at the public pool before work',
    kind: 'neutral',
    topic: 'fitness',
    who: 'self',
    person: null,
    query: 'How should I pack my bag for tomorrow?',
    gold: 'Goggles, a quick-dry towel, flip-flops and spare clothes in a waterproof pouch.',
    distractors: [
      'Slip in a yoga mat strap, a light hoodie and a protein bar so you can stretch in the studio after lunch.',
      'Add a paperback, noise-cancelling headphones and a refillable water bottle for the long train ride.',
      'Keep it simple: laptop, charger, wallet, keys and an umbrella in case the weather turns.',
    ],
    evidence: [
      'My hair smells of chlorine all day at the office no matter which shampoo I use. Any tricks?',
      'Rinse with fresh water right after, wear a silicone cap, and use a clarifying shampoo once a week.',
    ],
  },
  {
    statement: 'Collects vintage fountain pens',
    kind: 'anti_stereotypical',
    topic: 'collecting',
    who: 'self',
    person: null,
    query: 'What would make a thoughtful birthday present for me?',
    gold: 'A bottle of iron-gall ink, a converter for older nibs and a leather wrap with three slots would suit you well.',
    distractors: [
      'A set of artisan chocolates from a small producer, packed in a cedar box with tasting notes.',
      'Tickets to a jazz night at a small club, with dinner reserved nearby beforehand.',
      'A gift card for your favourite bookshop, so you can choose something for yourself at leisure.',
    ],
    evidence: [
      'I found a 1950s Parker at a flea market and the nib is scratchy. How can I smooth it out without ruining it?',
      'Use micromesh pads in small figure-eight strokes, checking the tines under a loupe between passes; stop as soon as it glides.',
    ],
  },
  {
    statement: 'Avoids caffeine after a heart palpitation scare',
    kind: 'health_and_medical',
    topic: 'health',
    who: 'self',
    person: null,
    query: 'What should I order at the café with my friends later?',
    gold: 'Try a rooibos latte or a warm spiced apple cider, both gentle choices that still feel like a treat.',
    distractors: [
      'Get a double espresso with a splash of oat milk to keep you sharp through the afternoon meetings.',
      'Go for a large matcha with extra sweetener and a slice of lemon cake.',
      'Pick whatever looks good on the board; seasonal specials are usually the most interesting thing there.',
    ],
    evidence: [
      "My cardiologist said the fluttering in my chest was probably stress, but I'd rather not take chances. What are gentle drinks for late afternoons?",
      'Herbal infusions like rooibos, chamomile or peppermint, or warm milk with cinnamon, are easy swaps.',
    ],
  },
  {
    statement: 'Plays bass guitar in a weekend covers band',
    kind: 'anti_stereotypical',
    topic: 'music',
    who: 'self',
    person: null,
    query: 'Which gadget would be worth buying this month?',
    gold: 'A compact headphone amp with a tuner built in would let you practise grooves quietly late at night.',
    distractors: [
      'A smart kitchen scale that syncs recipes to your phone and tracks portions automatically while you cook.',
      'A robot vacuum with mapping, so the floors stay clean without any effort from you.',
      'A good pair of wireless earbuds with long battery life and solid noise cancelling for travel.',
    ],
    evidence: [
      'Our drummer keeps rushing the chorus of that Motown song and I end up chasing him. How do I lock in with him?',
      'Watch his hi-hat hand, rehearse with a click for a week, and agree on a visual cue before the chorus.',
    ],
  },
  {
    statement: 'Keeps a strict vegan diet',
    kind: 'stereotypical',
    topic: 'food',
    who: 'self',
    person: null,
    query: 'Can you suggest a quick dinner for tonight?',
    gold: 'Tofu, broccoli and cashew stir-fry over rice noodles with garlic and soy.',
    distractors: [
      'Pan-sear a salmon fillet and serve it with buttered new potatoes and green beans.',
      'Make a cheesy omelette with spinach and mushrooms, and a slice of toasted rye on the side for dipping.',
      'Heat up some leftovers and add a fresh salad so it feels like a proper meal.',
    ],
    evidence: [
      "I'm hosting my sister next week and she keeps asking where I get my protein now that there's no cheese or eggs in my fridge. What should I tell her?",
      'Lentils, chickpeas, tofu, tempeh and seitan cover it well; a varied plate gives her plenty of answers.',
    ],
  },
  {
    statement: 'Restores old wooden sailboats',
    kind: 'neutral',
    topic: 'boats',
    who: 'self',
    person: null,
    query: 'What should I do with my upcoming week off?',
    gold: 'Sand and varnish the transom, then caulk the seams so the hull is ready for spring.',
    distractors: [
      'Book a cheap flight to a city you have never seen and wander its museums and markets.',
      'Sign up for a pottery course and come away with a set of lopsided but lovely mugs and bowls.',
      'Catch up on sleep, see a few friends, and do nothing ambitious at all for once.',
    ],
    evidence: [
      'The planks near the keel have gone soft and grey. Can I scarf in new oak, or does the whole section need replacing?',
      'If the rot is local, scarf joints in white oak at a 12:1 slope work well; probe the frames first to be sure.',
    ],
  },
  {
    statement: 'Is learning Japanese for a move to Osaka',
    kind: 'neutral',
    topic: 'languages',
    who: 'self',
    person: null,
    query: 'How can I make better sense of my commute?',
    gold: 'Drill kana flashcards on your phone and replay a short Kansai-dialect podcast episode until you can follow it.',
    distractors: [
      'Listen to an audiobook on negotiation and jot down one tactic to try at the office each day.',
      'Do a guided breathing session so you arrive calm and focused.',
      'Catch up on the news headlines and clear out your email inbox before you reach your desk.',
    ],
    evidence: [
      'My new job starts in April and my landlord there only speaks Kansai-ben. What phrases should I practise first?',
      "Start with greetings, 'ookini' for thanks, and polite questions about rent, repairs and rubbish days.",
    ],
  },
  {
    statement: 'Their daughter Maya is allergic to peanuts',
    kind: 'health_and_medical',
    topic: 'health',
    who: 'others',
    person: 'my daughter Maya',
    query: 'What snacks should I bring to the school picnic?',
    gold: 'Sunflower-seed butter sandwiches, fruit skewers and popcorn, all labelled nut-free.',
    distractors: [
      'Pack peanut butter cookies, trail mix and chocolate-covered almonds, which kids always love.',
      'Grab a variety of crisps and fizzy drinks from the supermarket on the way.',
      'Cut up some cheese cubes, crackers and grapes for an easy shared platter on the blanket.',
    ],
    evidence: [
      "Maya's face swelled up after a birthday party last month and the doctor gave us an EpiPen. How do I talk to her teachers about it?",
      'Meet the teacher and school nurse together, share the action plan, and leave a spare auto-injector in the office.',
    ],
  },
  {
    statement: 'Runs trail ultramarathons in the mountains',
    kind: 'anti_stereotypical',
    topic: 'running',
    who: 'self',
    person: null,
    query: 'Which shoes should I buy next?',
    gold: 'A rock-plated lugged model with a roomy toe box for scree and long miles.',
    distractors: [
      'Go for a cushioned road trainer with a carbon plate for fast times on pavement.',
      'A pair of leather loafers would work for the office and weekend dinners alike, and they age nicely.',
      'Pick whatever fits best in the store; comfort matters more than any single feature.',
    ],
    evidence: [
      'My quads were wrecked on the descents at the last race, the one with 3,000 metres of climbing. How do I train for that?',
      'Add downhill repeats and eccentric squats twice a week; descending strength builds over six to eight weeks.',
    ],
  },
  {
    statement: 'Volunteers at an animal shelter on Sundays',
    kind: 'neutral',
    topic: 'volunteering',
    who: 'self',
    person: null,
    query: 'Any ideas for how to spend my next day off?',
    gold: 'Walk the kennel dogs early, then help bathe the new arrivals before adoption hour.',
    distractors: [
      "Go to a farmers' market and then try a new recipe with whatever looks freshest.",
      'Visit a contemporary art gallery and have lunch in the museum café before the crowds arrive.',
      "Stay in, do some laundry and watch a film you've been saving.",
    ],
    evidence: [
      'One of the older greyhounds flinches whenever someone reaches for her lead. How can I help her trust people again?',
      'Move slowly, let her sniff your hand first, reward calm behaviour with treats, and keep each session short.',
    ],
  },
  {
    statement: 'Prefers watching films with subtitles rather than dubbing',
    kind: 'neutral',
    topic: 'movies',
    who: 'self',
    person: null,
    query: "Got any recommendations for tonight's movie night?",
    gold: 'Try the original Korean cut of a slow-burn thriller and keep the captions on, so every line keeps its real voice.',
    distractors: [
      'Pick a big animated blockbuster with a famous voice cast recorded in English.',
      'Queue up a stand-up special; it is light, funny and easy to talk over with snacks.',
      'Choose a classic comedy most people have already seen and enjoyed together.',
    ],
    evidence: [
      "The voices in the version I rented didn't match the actors' mouths at all, and it ruined the tension. Is there a way to get the Korean audio back?",
      'Most streaming apps let you switch the audio track under the speech bubble icon; choose Korean and turn on English captions.',
    ],
  },
];

/** Filler conversations on topics none of the users has a preference about. */
export const CLEAN_FILLER = [
  {
    topic: 'astronomy',
    messages: [
      { role: 'user' as const, content: 'Why does the Moon look so much bigger when it sits near the horizon?' },
      {
        role: 'assistant' as const,
        content:
          'It is mostly an illusion: the brain judges distance from the landscape around it, so it inflates the apparent size low in the sky.',
      },
    ],
  },
  {
    topic: 'geography',
    messages: [
      { role: 'user' as const, content: 'How do tides behave inside a long narrow bay?' },
      {
        role: 'assistant' as const,
        content: 'The incoming water is funnelled, so the range grows toward the head of the bay; the Bay of Fundy is the classic case.',
      },
    ],
  },
];

export const SENSITIVE: ReadonlyArray<{ pid: number; field: string; value: string }> = [
  { pid: 0, field: 'phone', value: '+1 (312) 555-0147' },
  { pid: 1, field: 'email', value: 'teo.marsh41@example.org' },
  { pid: 2, field: 'ssn', value: '934-27-1186' },
];

export interface Plant {
  /** Make every gold the uniquely longest option. */
  longGold?: boolean;
  /** Replace the query of this bank item with one that names the preference. */
  leakQuery?: { item: number; query: string };
  /** Replace the user turn of this item's evidence session with an outright statement. */
  explicit?: { item: number; turn: string };
  /** Add a filler conversation to this user's history (and the filler pool). */
  filler?: { pid: number; topic: string; messages: Array<{ role: 'user' | 'assistant'; content: string }> };
  /** Show this user's sensitive value in this item's gold answer. */
  unmasked?: { item: number };
  /** Give user 0 a sensitive value that could be real. */
  realValue?: { field: string; value: string };
}

const LETTERS = ['A', 'B', 'C', 'D'] as const;
const SIZE = '8k';

/**
 * Writes a small native dataset (questions.jsonl, users.jsonl, histories/8k, and a run store with
 * the sessions and filler), optionally with one kind of leak planted. Returns the question ids.
 */
export async function writeNativeDataset(dir: string, plant: Plant = {}): Promise<string[]> {
  const users = new Map<
    number,
    { prefs: unknown[]; sessions: Array<{ id: string; messages: Array<{ role: string; content: string }> }> }
  >();
  const questions: unknown[] = [];
  const ids: string[] = [];
  const sensitive = SENSITIVE.map((s) => ({ ...s }));
  if (plant.realValue) sensitive.push({ pid: 0, ...plant.realValue });

  BANK.forEach((b, k) => {
    const pid = Math.floor(k / 4);
    const u = users.get(pid) ?? { prefs: [], sessions: [] };
    users.set(pid, u);
    const prefId = `p${String(k).padStart(3, '0')}`;
    u.prefs.push({
      pref_id: prefId,
      persona_id: pid,
      kind: b.kind,
      statement: b.statement,
      topic: b.topic,
      who: b.who,
      person: b.person,
      update: null,
      forget: false,
      repeats: 0,
      sensitive: null,
    });
    let gold = b.gold;
    if (plant.longGold) gold = `${gold} It also leaves time for a proper rest afterwards, which matters more than it sounds.`;
    if (plant.unmasked?.item === k) {
      const s = sensitive.find((v) => v.pid === pid)!;
      gold = `${gold} I will send the details to ${s.value}.`;
    }
    const query = plant.leakQuery?.item === k ? plant.leakQuery.query : b.query;
    const userTurn = plant.explicit?.item === k ? plant.explicit.turn : b.evidence[0];
    const sessionId = `u${pid}-${prefId}-reveal`;
    u.sessions.push({
      id: sessionId,
      messages: [
        { role: 'user', content: userTurn },
        { role: 'assistant', content: b.evidence[1] },
      ],
    });
    // The gold moves through every position, so the letter tells nothing.
    const at = k % 4;
    const options = [...b.distractors] as string[];
    options.splice(at, 0, gold);
    questions.push({
      question_id: `u${pid}-${prefId}`,
      persona_id: pid,
      user_query: query,
      correct_answer: gold,
      incorrect_answers: b.distractors,
      options,
      answer: LETTERS[at],
      preference: b.statement,
      pref_type:
        b.kind === 'neutral'
          ? 'neutral_preferences'
          : b.kind === 'health_and_medical'
            ? 'health_and_medical_conditions'
            : b.kind === 'stereotypical'
              ? 'stereotypical_pref'
              : 'anti_stereotypical_pref',
      who: b.who,
      updated: false,
      prev_pref: null,
      sensitive_info: false,
      conversation_scenario: (['chat_message', 'trouble_consult', 'knowledge_query', 'personal_email'] as const)[k % 4],
      topic_preference: b.topic,
      topic_query: b.topic,
      scenario_id: `${b.topic}-synthetic`,
      histories: { [SIZE]: `histories/${SIZE}/${pid}.json` },
      evidence: { session_id: sessionId, messages: {} as Record<string, [number, number]> },
    });
    ids.push(`u${pid}-${prefId}`);
  });

  const filler = CLEAN_FILLER.map((f, i) => ({ filler_id: `f${i}`, topic: f.topic, messages: f.messages, tokens: 40 }));
  if (plant.filler) filler.push({ filler_id: `f${filler.length}`, topic: plant.filler.topic, messages: plant.filler.messages, tokens: 40 });

  const put = async (rel: string, value: unknown) => {
    await mkdir(join(dir, rel, '..'), { recursive: true });
    await writeFile(join(dir, rel), JSON.stringify(value));
  };
  for (const [pid, u] of users) {
    // History: system message, then sessions with filler between them.
    const chat: Array<{ role: string; content: string }> = [{ role: 'system', content: `You are an AI assistant helping user ${pid}.` }];
    const mine = [CLEAN_FILLER[pid % 2]!, ...(plant.filler?.pid === pid ? [plant.filler] : [])];
    u.sessions.forEach((s, i) => {
      const q = questions.find((x) => (x as { evidence: { session_id: string } }).evidence.session_id === s.id) as {
        evidence: { messages: Record<string, [number, number]> };
      };
      q.evidence.messages[SIZE] = [chat.length, chat.length + s.messages.length - 1];
      chat.push(...s.messages);
      const f = mine[i];
      if (f) chat.push(...f.messages);
    });
    await put(`histories/${SIZE}/${pid}.json`, {
      metadata: { total_messages: chat.length, final_token_count: 900, persona_id: pid, size: SIZE, token_target: 8000 },
      chat_history: chat,
    });
    for (const s of u.sessions) {
      await put(`.run/users/${pid}/sessions/${s.id}.json`, {
        output: {
          session_id: s.id,
          persona_id: pid,
          pref_id: s.id.split('-')[1],
          purpose: 'reveal',
          scenario_id: 'synthetic',
          task_type: 'chat_message',
          topic: 'synthetic',
          messages: s.messages,
          tokens: 60,
        },
        usage: [],
      });
    }
    for (const s of sensitive.filter((v) => v.pid === pid)) {
      u.prefs.push({
        pref_id: `s${String(u.prefs.length).padStart(3, '0')}`,
        persona_id: pid,
        kind: 'sensitive_info',
        statement: `Shared their ${s.field} and expects it kept private`,
        topic: 'privacy_security',
        who: 'self',
        person: null,
        update: null,
        forget: false,
        repeats: 0,
        sensitive: { field: s.field, value: s.value },
      });
    }
  }
  for (const [i, f] of filler.entries()) await put(`.run/filler/${i}.json`, { output: f, usage: [] });
  await writeFile(
    join(dir, 'users.jsonl'),
    [...users].map(([pid, u]) => JSON.stringify({ persona_id: pid, short_persona: `user ${pid}`, preferences: u.prefs })).join('\n') + '\n',
  );
  await writeFile(join(dir, 'questions.jsonl'), questions.map((q) => JSON.stringify(q)).join('\n') + '\n');
  return ids;
}
