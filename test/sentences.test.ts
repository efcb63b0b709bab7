// Sentence files (hassil format): template semantics case by case, errors naming file, line and
// construct, and the automaton's size on a large home (daemon/sentences.ts). No model needed.
import test from 'ava';
import { compileSentences, matchSentence, numberWords, parseSentenceFiles, SentenceError, type Grammar } from '../daemon/sentences.js';
import { largeHome } from '../bench/sentences-home.js';

const grammar = (yaml: string, file = 'home.yaml'): Grammar => compileSentences(parseSentenceFiles([{ file, text: yaml }]));
const one = (sentence: string, lists = '', extra = ''): Grammar =>
  grammar(
    `intents:\n  Test:\n    data:\n      - sentences:\n          - ${JSON.stringify(sentence)}\n${extra}${lists ? `lists:\n${lists}` : ''}`,
  );
const says = (g: Grammar, text: string) => matchSentence(g, text);

const errorOf = (t: { throws: (fn: () => unknown, exp?: object) => unknown }, yaml: string): SentenceError =>
  t.throws(() => grammar(yaml), { instanceOf: SentenceError }) as SentenceError;

test('plain text: lower case, punctuation dropped, digits said as words', (t) => {
  const g = one("What's the time, please? Set 5 timers!");
  t.deepEqual(says(g, "what's the time please set five timers"), { name: 'Test', slots: {} });
  t.is(says(g, 'whats the time please set five timers'), null);
  t.is(says(g, "what's the time please"), null); // a prefix is not a sentence
  t.deepEqual(says(g, "  What's the TIME, please? Set 5 timers!"), { name: 'Test', slots: {} }); // typed text is spelled out
  t.is(says(g, 'what’s the time € set five timers'), null);
});

test('alternatives (a|b), nested, and empty alternatives', (t) => {
  const g = one('(turn|switch) (on|off (now|later)|) the fan');
  for (const s of ['turn on the fan', 'switch off now the fan', 'turn off later the fan', 'turn the fan']) t.truthy(says(g, s), s);
  for (const s of ['turn off the fan', 'turn switch on the fan', 'on the fan']) t.is(says(g, s), null, s);
});

test('optional alternatives [a|b] and optionals inside alternatives', (t) => {
  const g = one('add it to [my|the] (shopping [list]|cart)');
  for (const s of ['add it to my shopping list', 'add it to the cart', 'add it to shopping', 'add it to cart']) t.truthy(says(g, s), s);
  t.is(says(g, 'add it to my the cart'), null);
  t.is(says(g, 'add it to list'), null);
});

test('optional [x]: spaces around a skipped optional collapse into one', (t) => {
  const g = one('turn on [the] [kitchen] light [please]');
  for (const s of [
    'turn on light',
    'turn on the light',
    'turn on kitchen light',
    'turn on the kitchen light please',
    'turn on light please',
  ])
    t.truthy(says(g, s), s);
  t.is(says(g, 'turn onlight'), null);
  t.is(says(g, 'turn on the the light'), null);
});

test('permutations (a;b;c): every order, items joined by a space', (t) => {
  const g = one('(set the light;to red;now)');
  for (const s of ['set the light to red now', 'now set the light to red', 'to red now set the light']) t.truthy(says(g, s), s);
  t.is(says(g, 'set the light to red'), null); // every item is needed
  t.is(says(g, 'set the light set the light now'), null);
  const alt = one('(turn on|switch on; [the] lamp)');
  for (const s of ['switch on lamp', 'the lamp turn on']) t.truthy(says(alt, s), s);
});

test('lists: values with in/out, a renamed slot, fixed slots of the data block', (t) => {
  const g = grammar(`
intents:
  HassTurnOn:
    data:
      - sentences: ["turn on [the] {name}", "turn on {name} and {name:other}"]
        slots: { domain: light }
lists:
  name:
    values:
      - kitchen light
      - { in: "tv", out: media_player.tv }
      - { in: "(lamp|lamps)", out: { id: 7 } }
`);
  t.deepEqual(says(g, 'turn on the kitchen light'), { name: 'HassTurnOn', slots: { domain: 'light', name: 'kitchen light' } });
  t.deepEqual(says(g, 'turn on tv'), { name: 'HassTurnOn', slots: { domain: 'light', name: 'media_player.tv' } });
  t.deepEqual(says(g, 'turn on lamps'), { name: 'HassTurnOn', slots: { domain: 'light', name: { id: 7 } } });
  t.deepEqual(says(g, 'turn on tv and lamp'), {
    name: 'HassTurnOn',
    slots: { domain: 'light', name: 'media_player.tv', other: { id: 7 } },
  });
  t.is(says(g, 'turn on the radio'), null);
  t.is(says(g, 'turn on the kitchen'), null); // a value's prefix is not the value
});

test('range lists: numbers spoken as words, step and multiplier, the number as the value', (t) => {
  const g = one('set volume to {level} [percent]', '  level: { range: { from: 0, to: 100, step: 5, multiplier: 0.01 } }\n');
  t.deepEqual(says(g, 'set volume to thirty five percent'), { name: 'Test', slots: { level: 0.35 } });
  t.deepEqual(says(g, 'set volume to one hundred'), { name: 'Test', slots: { level: 1 } });
  t.deepEqual(says(g, 'set volume to zero'), { name: 'Test', slots: { level: 0 } });
  t.is(says(g, 'set volume to thirty six'), null); // not on the step
  t.is(numberWords(1234567), 'one million two hundred thirty four thousand five hundred sixty seven');
  t.is(numberWords(-40), 'minus forty');
});

test('wildcards: free text until the template resumes, or to the end', (t) => {
  const g = grammar(`
intents:
  AddItem:
    data: [{ sentences: ["add {item} to [my] shopping list"] }]
  Remind:
    data: [{ sentences: ["remind me to {task}"] }]
  Play:
    data: [{ sentences: ["play {album} by {artist}"] }]
lists:
  item: { wildcard: true }
  task: { wildcard: true }
  album: { wildcard: true }
  artist: { wildcard: true }
`);
  t.deepEqual(says(g, 'add paper towels to my shopping list'), { name: 'AddItem', slots: { item: 'paper towels' } });
  t.deepEqual(says(g, 'add milk to shopping list'), { name: 'AddItem', slots: { item: 'milk' } });
  t.deepEqual(says(g, 'remind me to call the plumber at noon'), { name: 'Remind', slots: { task: 'call the plumber at noon' } });
  t.deepEqual(says(g, 'play the white album by the beatles'), { name: 'Play', slots: { album: 'the white album', artist: 'the beatles' } });
  t.is(says(g, 'add to my shopping list'), null); // a wildcard takes at least one word
});

test('expansion rules: global, local to a data block (shadowing), nested', (t) => {
  const g = grammar(`
intents:
  GetState:
    data:
      - sentences: ["is the door <state>"]
        slots: { domain: lock }
        expansion_rules: { state: "(locked|unlocked)" }
      - sentences: ["is the door <state>"]
        slots: { domain: binary_sensor }
  TurnOn:
    data: [{ sentences: ["<turn> on <name>"] }]
expansion_rules:
  state: "(open|closed)"
  turn: "(turn|switch)"
  name: "[the] <thing>"
  thing: "(fan|heater)"
`);
  t.deepEqual(says(g, 'is the door locked'), { name: 'GetState', slots: { domain: 'lock' } });
  t.deepEqual(says(g, 'is the door open'), { name: 'GetState', slots: { domain: 'binary_sensor' } });
  t.deepEqual(says(g, 'switch on the heater'), { name: 'TurnOn', slots: {} });
});

test('skip words may come before and after a sentence', (t) => {
  const g = grammar('intents:\n  Stop:\n    data: [{ sentences: ["stop the music"] }]\nskip_words: ["please", "can you"]\n');
  for (const s of ['stop the music', 'please stop the music', 'can you please stop the music please']) t.truthy(says(g, s), s);
  t.is(says(g, 'stop please the music'), null);
});

test('several files: intents add up, a later list replaces an earlier one', (t) => {
  const set = parseSentenceFiles([
    { file: 'a.yaml', text: 'intents:\n  A:\n    data: [{ sentences: ["open {thing}"] }]\nlists:\n  thing: { values: [door] }\n' },
    { file: 'b.yaml', text: 'intents:\n  B:\n    data: [{ sentences: ["close {thing}"] }]\nlists:\n  thing: { values: [window] }\n' },
  ]);
  const g = compileSentences(set);
  t.deepEqual(says(g, 'close window'), { name: 'B', slots: { thing: 'window' } });
  t.deepEqual(says(g, 'open window'), { name: 'A', slots: { thing: 'window' } });
  t.is(says(g, 'open door'), null);
});

test('errors name the file, the line and the construct', (t) => {
  const cases: [string, number, RegExp][] = [
    ['intents:\n  A:\n    data:\n      - sentences:\n          - "turn on {nope}"\n', 5, /\{nope\}: no list of that name/],
    ['intents:\n  A:\n    data:\n      - sentences:\n          - "turn on <nope>"\n', 5, /<nope>: no expansion rule/],
    ['intents:\n  A:\n    data:\n      - sentences:\n          - "turn (on|off"\n', 5, /template "turn \(on\|off": "\(" is never closed/],
    ['intents:\n  A:\n    data:\n      - sentences:\n          - "turn on]"\n', 5, /unexpected "\]"/],
    [
      'intents:\n  A:\n    data:\n      - sentences: ["x"]\n        requires_context: {}\n        weird: 1\n',
      6,
      /intent A data key "weird": not supported/,
    ],
    [
      'intents:\n  A:\n    data:\n      - sentences: ["x {n}"]\nlists:\n  n:\n    range: { from: 1, to: 3, words: false }\n',
      7,
      /range words: false/,
    ],
    [
      'intents:\n  A:\n    data:\n      - sentences: ["x {n}"]\nlists:\n  n: { values: [a], wildcard: true }\n',
      6,
      /list \{n\}: needs exactly one of/,
    ],
    ['intents:\n  A:\n    data:\n      - sentences:\n          - "price in €"\n', 5, /character "€" cannot be spoken/],
    [
      'intents:\n  A:\n    data:\n      - sentences: ["<a>"]\nexpansion_rules:\n  a: "x <b>"\n  b: "<a>"\n',
      6,
      /<a>: refers to itself \(a -> b -> a\)/,
    ],
    ['intents:\n  A:\n    data:\n      - sentences: ["(a;b;c;d;e;f;g)"]\n', 4, /permutation: 7 items/],
    [
      'intents:\n  A:\n    data:\n      - sentences: ["x {n}"]\nlists:\n  n:\n    values: ["{m}"]\n  m: { values: [y] }\n',
      7,
      /\{m\}: a list reference inside list \{n\}/,
    ],
    ['intents: [\n', 2, /YAML/],
  ];
  for (const [yaml, line, msg] of cases) {
    const e = errorOf(t, yaml);
    t.is(e.file, 'home.yaml', yaml);
    t.is(e.line, line, `${e.message} (for ${JSON.stringify(yaml)})`);
    t.regex(e.message, msg);
    t.true(e.message.startsWith(`home.yaml:${line}: `), e.message);
  }
});

test('a large home (500 names, 30 areas, HA-like templates) compiles in well under a second, in a few MB', (t) => {
  const { text } = largeHome(500, 30);
  const t0 = performance.now();
  const g = compileSentences(parseSentenceFiles([{ file: 'large.yaml', text }]));
  const ms = performance.now() - t0;
  t.true(ms < 1000, `${ms} ms`);
  t.true(g.stats.bytes < 4e6, `${g.stats.bytes} bytes`);
  // never expanded: twice the names add their characters once, not once per template
  const big = compileSentences(parseSentenceFiles([{ file: 'large.yaml', text: largeHome(1000, 30).text }]));
  t.true(big.stats.states - g.stats.states < 20000, `${g.stats.states} -> ${big.stats.states} states`);
  t.deepEqual(says(g, 'turn on the reading lamp seventeen'), { name: 'HassTurnOn', slots: { name: 'reading lamp seventeen' } });
  t.deepEqual(says(g, 'set the brightness of the hall light three to forty percent'), {
    name: 'HassLightSet',
    slots: { name: 'hall light three', brightness: 40 },
  });
  t.deepEqual(says(g, 'turn off the lights in the guest bedroom'), {
    name: 'HassTurnOff',
    slots: { area: 'guest bedroom', domain: 'light' },
  });
});
