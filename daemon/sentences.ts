// Sentence files in Home Assistant's hassil format -> one automaton over characters that the
// engine's beam search is restricted to (native/engine/grammar.cpp), and the matcher that reads the
// intent and slots off a sentence it accepted. Templates are never expanded into sentences: lists
// are sub-automata entered by a call (one copy however many templates use them), expansion rules are
// inlined where used.
import fs from 'node:fs';
import YAML, { isMap, isScalar, isSeq, LineCounter, type Node as YamlNode, type YAMLMap } from 'yaml';

/** A construct the compiler cannot take, with where it is. */
export class SentenceError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly construct: string,
    problem: string,
  ) {
    super(`${file}:${line}: ${construct}: ${problem}`);
    this.name = 'SentenceError';
  }
}

// ---- template syntax (hassil): text, (a|b), [optional], (a;b) permutation, {list[:slot]}, <rule> ----

export type Expr =
  | { t: 'text'; text: string }
  | { t: 'seq'; items: Expr[] }
  | { t: 'alt'; options: Expr[] }
  | { t: 'perm'; items: Expr[] }
  | { t: 'list'; list: string; slot: string }
  | { t: 'rule'; rule: string };

interface Where {
  file: string;
  line: number;
}

/** Parses one template; errors name the template and the problem. */
export function parseTemplate(src: string, where: Where): Expr {
  let i = 0;
  const fail = (msg: string): never => {
    throw new SentenceError(where.file, where.line, `template "${src}"`, `${msg} (at character ${i + 1})`);
  };
  // alternatives and permutation items of one group, up to `close`
  const group = (close: string): Expr => {
    const alts: Expr[][] = [[]];
    const perm: Expr[] = [];
    let sep: '|' | ';' | null = null;
    let text = '';
    const flush = () => {
      if (text) alts[alts.length - 1].push({ t: 'text', text });
      text = '';
    };
    for (;;) {
      if (i >= src.length) {
        if (close) fail(`"${close === ')' ? '(' : close === ']' ? '[' : ''}" is never closed`);
        break;
      }
      const c = src[i];
      if (c === close) {
        i++;
        break;
      }
      if (c === ')' || c === ']') fail(`unexpected "${c}"`);
      if (c === '|' || c === ';') {
        if (c === ';' && close !== ')') fail('a permutation ";" belongs inside "( )"');
        flush();
        if (c === ';') {
          if (sep === '|' && alts.length > 1) perm.push({ t: 'alt', options: alts.map(seqOf) });
          else perm.push(seqOf(alts[0]));
          alts.length = 0;
          alts.push([]);
          sep = ';';
        } else {
          alts.push([]);
          if (sep === null) sep = '|';
        }
        i++;
        continue;
      }
      if (c === '(' || c === '[') {
        flush();
        i++;
        const inner = group(c === '(' ? ')' : ']');
        alts[alts.length - 1].push(c === '[' ? { t: 'alt', options: [inner, { t: 'seq', items: [] }] } : inner);
        continue;
      }
      if (c === '{' || c === '<') {
        flush();
        const end = src.indexOf(c === '{' ? '}' : '>', i);
        if (end < 0) fail(`"${c}" is never closed`);
        const body = src.slice(i + 1, end).trim();
        if (c === '{') {
          const [list, slot, extra] = body.split(':').map((s) => s.trim());
          if (!list || extra !== undefined || slot === '') fail(`bad list reference "{${body}}" (expected {list} or {list:slot})`);
          alts[alts.length - 1].push({ t: 'list', list, slot: slot ?? list });
        } else {
          if (!body) fail('empty rule reference "<>"');
          alts[alts.length - 1].push({ t: 'rule', rule: body });
        }
        i = end + 1;
        continue;
      }
      if (c === '}' || c === '>') fail(`unexpected "${c}"`);
      text += c;
      i++;
    }
    flush();
    if (sep === ';') {
      perm.push(alts.length > 1 ? { t: 'alt', options: alts.map(seqOf) } : seqOf(alts[0]));
      return { t: 'perm', items: perm };
    }
    return alts.length > 1 ? { t: 'alt', options: alts.map(seqOf) } : seqOf(alts[0]);
  };
  const seqOf = (items: Expr[]): Expr => (items.length === 1 ? items[0] : { t: 'seq', items });
  return group('');
}

// ---- text normalization: what the recognizer can spell (lower-case letters, apostrophe, space) ----

const ONES = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

/** English words for an integer (|n| < 10^12), as people say it: 125 -> "one hundred twenty five". */
export function numberWords(n: number): string {
  if (!Number.isInteger(n) || Math.abs(n) >= 1e12) throw new Error(`cannot say ${n} in words`);
  if (n < 0) return `minus ${numberWords(-n)}`;
  if (n < 20) return ONES[n];
  if (n < 100) return TENS[Math.floor(n / 10)] + (n % 10 ? ` ${ONES[n % 10]}` : '');
  if (n < 1000) return `${ONES[Math.floor(n / 100)]} hundred` + (n % 100 ? ` ${numberWords(n % 100)}` : '');
  for (const [size, name] of [
    [1e9, 'billion'],
    [1e6, 'million'],
    [1e3, 'thousand'],
  ] as const) {
    if (n >= size) return `${numberWords(Math.floor(n / size))} ${name}` + (n % size ? ` ${numberWords(n % size)}` : '');
  }
  return '';
}

/** Lower case, digits said as words, punctuation dropped; throws on a character the model cannot spell. */
export function normalizeText(text: string, onBad: (ch: string) => never): string {
  let s = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[’‘`]/g, "'")
    .replace(/%/g, ' percent ')
    .replace(/\d+/g, (d) => ` ${numberWords(Number(d))} `)
    .replace(/[-_/&+]/g, (c) => (c === '&' ? ' and ' : c === '+' ? ' plus ' : ' '))
    .replace(/[.,!?¿¡:;"()[\]{}<>]/g, ' ');
  const bad = s.match(/[^a-z' \t\n]/);
  if (bad) onBad(bad[0]);
  s = s.replace(/\s+/g, ' ');
  return s;
}

// ---- sentence files ----

interface ListValue {
  in: Expr; // template of what is said
  out: unknown;
  where: Where;
}
interface ListDef {
  name: string;
  where: Where;
  wildcard: boolean;
  values: ListValue[];
}
interface DataBlock {
  intent: string;
  sentences: { expr: Expr; where: Where }[];
  slots: Record<string, unknown>;
  rules: Map<string, { expr: Expr; where: Where }>;
}

export interface SentenceSet {
  files: string[];
  blocks: DataBlock[];
  lists: Map<string, ListDef>;
  rules: Map<string, { expr: Expr; where: Where }>;
  skipWords: string[];
}

const FILE_KEYS = new Set(['language', 'intents', 'lists', 'expansion_rules', 'skip_words', 'responses']);
const DATA_KEYS = new Set(['sentences', 'slots', 'requires_context', 'excludes_context', 'expansion_rules', 'response', 'metadata']);
const LIST_KEYS = new Set(['values', 'range', 'wildcard']);
const RANGE_KEYS = new Set(['from', 'to', 'step', 'type', 'multiplier', 'words', 'digits']);
const VALUE_KEYS = new Set(['in', 'out', 'context', 'metadata']);

/** Parses sentence files (one YAML document each) into one set; the later file's list or rule of a
 * name replaces the earlier's, intents add up. */
export function parseSentenceFiles(files: { file: string; text: string }[]): SentenceSet {
  const set: SentenceSet = { files: [], blocks: [], lists: new Map(), rules: new Map(), skipWords: [] };
  for (const { file, text } of files) {
    set.files.push(file);
    const lc = new LineCounter();
    const doc = YAML.parseDocument(text, { lineCounter: lc, prettyErrors: false });
    const lineOf = (n: YamlNode | null | undefined): number => (n && n.range ? lc.linePos(n.range[0]).line : 1);
    if (doc.errors.length) {
      const e = doc.errors[0];
      throw new SentenceError(file, lc.linePos(e.pos[0]).line, 'YAML', e.message.split('\n')[0]);
    }
    const root = doc.contents;
    if (!isMap(root)) throw new SentenceError(file, lineOf(root), 'file', 'expected a mapping with "intents", "lists", "expansion_rules"');
    const at = (n: YamlNode | null | undefined): Where => ({ file, line: lineOf(n) });
    const fail = (n: YamlNode | null | undefined, construct: string, msg: string): never => {
      throw new SentenceError(file, lineOf(n), construct, msg);
    };
    const mapOf = (n: unknown, construct: string): YAMLMap<unknown, unknown> =>
      isMap(n) ? n : fail(n as YamlNode, construct, 'expected a mapping');
    const keyName = (k: unknown): string => (isScalar(k) ? String(k.value) : String(k));
    const str = (n: unknown, construct: string): string =>
      isScalar(n) && (typeof n.value === 'string' || typeof n.value === 'number')
        ? String(n.value)
        : fail(n as YamlNode, construct, 'expected a string');
    const checkKeys = (m: YAMLMap<unknown, unknown>, allowed: Set<string>, construct: string) => {
      for (const p of m.items)
        if (!allowed.has(keyName(p.key)))
          fail(p.key as YamlNode, `${construct} key "${keyName(p.key)}"`, `not supported (supported: ${[...allowed].join(', ')})`);
    };
    const rulesOf = (n: unknown, into: Map<string, { expr: Expr; where: Where }>) => {
      for (const p of mapOf(n, 'expansion_rules').items) {
        const name = keyName(p.key);
        const w = at(p.value as YamlNode);
        into.set(name, { expr: parseTemplate(str(p.value, `expansion rule <${name}>`), w), where: w });
      }
    };
    checkKeys(root, FILE_KEYS, 'top-level');
    const rootGet = (k: string) => root.get(k, true) as YamlNode | undefined;
    if (rootGet('expansion_rules')) rulesOf(rootGet('expansion_rules'), set.rules);
    const skip = rootGet('skip_words');
    if (skip) {
      if (!isSeq(skip)) fail(skip, 'skip_words', 'expected a list of strings');
      for (const w of (skip as { items: unknown[] }).items) set.skipWords.push(str(w, 'skip_words'));
    }
    const lists = rootGet('lists');
    if (lists) {
      for (const p of mapOf(lists, 'lists').items) {
        const name = keyName(p.key);
        const def = mapOf(p.value, `list {${name}}`);
        checkKeys(def, LIST_KEYS, `list {${name}}`);
        const list: ListDef = { name, where: at(p.key as YamlNode), wildcard: false, values: [] };
        const kinds = ['values', 'range', 'wildcard'].filter((k) => def.has(k));
        if (kinds.length !== 1) fail(p.key as YamlNode, `list {${name}}`, 'needs exactly one of "values", "range", "wildcard"');
        if (def.has('wildcard')) {
          if (def.get('wildcard') !== true) fail(def.get('wildcard', true) as YamlNode, `list {${name}}`, 'wildcard must be true');
          list.wildcard = true;
        } else if (def.has('values')) {
          const vals = def.get('values', true);
          if (!isSeq(vals)) fail(vals as YamlNode, `list {${name}} values`, 'expected a list');
          for (const v of (vals as unknown as { items: unknown[] }).items) {
            if (isMap(v)) {
              checkKeys(v, VALUE_KEYS, `list {${name}} value`);
              const src = str(v.get('in', true), `list {${name}} value "in"`);
              const outNode = v.get('out', true);
              list.values.push({
                in: parseTemplate(src, at(v)),
                out: outNode === undefined ? src : (v.toJSON() as { out: unknown }).out,
                where: at(v),
              });
            } else {
              const src = str(v, `list {${name}} value`);
              list.values.push({ in: parseTemplate(src, at(v as YamlNode)), out: src, where: at(v as YamlNode) });
            }
          }
        } else {
          const r = mapOf(def.get('range', true), `list {${name}} range`);
          checkKeys(r, RANGE_KEYS, `list {${name}} range`);
          const num = (k: string, d?: number): number => {
            const v = r.get(k);
            if (v === undefined && d !== undefined) return d;
            if (typeof v !== 'number' || !Number.isInteger(v))
              return fail((r.get(k, true) as YamlNode) ?? r, `list {${name}} range ${k}`, 'expected an integer');
            return v;
          };
          const from = num('from');
          const to = num('to');
          const step = num('step', 1);
          const mult = r.get('multiplier') ?? 1;
          if (typeof mult !== 'number') fail(r, `list {${name}} range multiplier`, 'expected a number');
          if (r.get('words') === false)
            fail(r, `list {${name}} range words: false`, 'spoken numbers are words; a range without words cannot be said');
          if (step <= 0 || to < from) fail(r, `list {${name}} range`, 'needs from <= to and a positive step');
          if ((to - from) / step > 100000) fail(r, `list {${name}} range`, 'more than 100000 values');
          for (let x = from; x <= to; x += step)
            list.values.push({
              in: { t: 'text', text: numberWords(x) },
              out: Number((x * (mult as number)).toPrecision(12)),
              where: list.where,
            });
        }
        set.lists.set(name, list);
      }
    }
    const intents = rootGet('intents');
    if (intents) {
      for (const p of mapOf(intents, 'intents').items) {
        const intent = keyName(p.key);
        const body = mapOf(p.value, `intent ${intent}`);
        checkKeys(body, new Set(['data']), `intent ${intent}`);
        const data = body.get('data', true);
        if (!isSeq(data)) fail((data as YamlNode) ?? body, `intent ${intent} data`, 'expected a list of { sentences, slots }');
        for (const d of (data as unknown as { items: unknown[] }).items) {
          const dm = mapOf(d, `intent ${intent} data`);
          checkKeys(dm, DATA_KEYS, `intent ${intent} data`);
          const block: DataBlock = { intent, sentences: [], slots: {}, rules: new Map() };
          const sents = dm.get('sentences', true);
          if (!isSeq(sents)) fail((sents as YamlNode) ?? dm, `intent ${intent} sentences`, 'expected a list of templates');
          for (const s of (sents as unknown as { items: unknown[] }).items) {
            const w = at(s as YamlNode);
            block.sentences.push({ expr: parseTemplate(str(s, `intent ${intent} sentence`), w), where: w });
          }
          const slots = dm.get('slots', true);
          if (slots) block.slots = mapOf(slots, `intent ${intent} slots`).toJSON() as Record<string, unknown>;
          if (dm.get('expansion_rules', true)) rulesOf(dm.get('expansion_rules', true), block.rules);
          set.blocks.push(block);
        }
      }
    }
  }
  return set;
}

// ---- automaton ----

/** Arc labels below 0 (above: a character's code point, 32 = the word space). */
export const EPS = -1;
/** enters list `aux` (an index into calls) and comes back to `to` */
export const CALL = -2;
/** free text (at least one character), then `to`; aux is the call index */
export const WILD = -3;

export interface Automaton {
  states: number;
  start: number;
  /** quadruples (from, label, to, aux); aux of an EPS arc: a tag index or -1 */
  arcs: Int32Array;
  /** per state: index of the data block it accepts, or -1 */
  final: Int32Array;
  /** per state: 1 where a list's sentence ends (return to the caller) */
  listEnd: Uint8Array;
  /** per call: start state of the list it enters (-1 for wildcards) */
  callStart: Int32Array;
}

type Tag = { list: string; value: number };

export interface Grammar {
  set: SentenceSet;
  automaton: Automaton;
  /** per call: the list and the slot it fills */
  calls: { list: string; slot: string; wildcard: boolean }[];
  tags: Tag[];
  stats: { states: number; arcs: number; compileMs: number; bytes: number };
}

class Builder {
  arcs: number[] = [];
  final: number[] = [];
  listEnd: number[] = [];
  n = 0;
  state(): number {
    this.final.push(-1);
    this.listEnd.push(0);
    return this.n++;
  }
  arc(from: number, label: number, to: number, aux = -1) {
    this.arcs.push(from, label, to, aux);
  }
}

const SPACE = 32;

/** Compiles a parsed set into the automaton; throws SentenceError for an unknown list or rule, a
 * rule that refers to itself, a list inside a list, or text the model cannot spell. */
export function compileSentences(set: SentenceSet): Grammar {
  const t0 = performance.now();
  const b = new Builder();
  const calls: Grammar['calls'] = [];
  const callStart: number[] = [];
  const tags: Tag[] = [];
  const listStart = new Map<string, number>();

  // characters of normalized text from -> returns end state; a space is its own arc (the search
  // lets consecutive template spaces stand for one spoken space)
  const text = (from: number, s: string, where: Where, construct: string): number => {
    const norm = normalizeText(s, (ch) => {
      throw new SentenceError(
        where.file,
        where.line,
        construct,
        `character "${ch}" cannot be spoken (letters, digits, apostrophes and punctuation only)`,
      );
    });
    let at = from;
    for (const ch of norm) {
      const nx = b.state();
      b.arc(at, ch.codePointAt(0)!, nx);
      at = nx;
    }
    return at;
  };

  const compileList = (list: ListDef): number => {
    const known = listStart.get(list.name);
    if (known !== undefined) return known;
    const start = b.state();
    listStart.set(list.name, start);
    const end = b.state();
    b.listEnd[end] = 1;
    // plain values share prefixes (a trie), so 500 names cost their distinct characters
    const trie = new Map<string, number>();
    list.values.forEach((v, idx) => {
      const tag = tags.push({ list: list.name, value: idx }) - 1;
      let last: number;
      if (v.in.t === 'text') {
        const norm = normalizeText(v.in.text, (ch) => {
          throw new SentenceError(
            v.where.file,
            v.where.line,
            `list {${list.name}} value "${v.in.t === 'text' ? v.in.text : ''}"`,
            `character "${ch}" cannot be spoken`,
          );
        }).trim();
        let at = start;
        let key = '';
        for (const ch of norm) {
          key += ch;
          let nx = trie.get(key);
          if (nx === undefined) {
            nx = b.state();
            trie.set(key, nx);
            b.arc(at, ch.codePointAt(0)!, nx);
          }
          at = nx;
        }
        last = at;
      } else {
        last = expr(start, v.in, new Map(), [], v.where, `list {${list.name}}`);
      }
      b.arc(last, EPS, end, tag);
    });
    return start;
  };

  const expr = (from: number, e: Expr, local: DataBlock['rules'], stack: string[], where: Where, inList?: string): number => {
    switch (e.t) {
      case 'text':
        return text(from, e.text, where, `template text "${e.text}"`);
      case 'seq': {
        let at = from;
        for (const it of e.items) at = expr(at, it, local, stack, where, inList);
        return at;
      }
      case 'alt': {
        const end = b.state();
        for (const o of e.options) {
          const s = b.state();
          b.arc(from, EPS, s);
          b.arc(expr(s, o, local, stack, where, inList), EPS, end);
        }
        return end;
      }
      case 'perm': {
        if (e.items.length > 6)
          throw new SentenceError(where.file, where.line, 'permutation', `${e.items.length} items (at most 6: ${e.items.length}! orders)`);
        const end = b.state();
        const orders = (xs: number[]): number[][] =>
          xs.length <= 1 ? [xs] : xs.flatMap((x, i) => orders([...xs.slice(0, i), ...xs.slice(i + 1)]).map((r) => [x, ...r]));
        for (const order of orders(e.items.map((_, i) => i))) {
          let at = b.state();
          b.arc(from, EPS, at);
          order.forEach((k, j) => {
            if (j) {
              const sp = b.state();
              b.arc(at, SPACE, sp);
              at = sp;
            }
            at = expr(at, e.items[k], local, stack, where, inList);
          });
          b.arc(at, EPS, end);
        }
        return end;
      }
      case 'rule': {
        const r = local.get(e.rule) ?? set.rules.get(e.rule);
        if (!r) throw new SentenceError(where.file, where.line, `<${e.rule}>`, 'no expansion rule of that name');
        if (stack.includes(e.rule))
          throw new SentenceError(r.where.file, r.where.line, `<${e.rule}>`, `refers to itself (${[...stack, e.rule].join(' -> ')})`);
        return expr(from, r.expr, local, [...stack, e.rule], where, inList);
      }
      case 'list': {
        if (inList) throw new SentenceError(where.file, where.line, `{${e.list}}`, `a list reference inside ${inList} (lists cannot nest)`);
        const list = set.lists.get(e.list);
        if (!list) throw new SentenceError(where.file, where.line, `{${e.list}}`, 'no list of that name (define it under "lists")');
        const to = b.state();
        const call = calls.push({ list: e.list, slot: e.slot, wildcard: list.wildcard }) - 1;
        if (list.wildcard) {
          callStart.push(-1);
          b.arc(from, WILD, to, call);
        } else {
          if (!list.values.length) throw new SentenceError(list.where.file, list.where.line, `list {${e.list}}`, 'has no values');
          callStart.push(compileList(list));
          b.arc(from, CALL, to, call);
        }
        return to;
      }
    }
  };

  const start = b.state();
  // skip words (hassil drops them from the input): allowed before and after a sentence
  let body = start;
  let skipLoop: number[] = [];
  if (set.skipWords.length) {
    body = b.state();
    b.arc(start, EPS, body);
    for (const w of set.skipWords) {
      const end = text(start, w, { file: set.files[0] ?? '', line: 1 }, `skip word "${w}"`);
      b.arc(end, SPACE, start);
    }
    skipLoop = set.skipWords.map((w) => w.length);
  }
  set.blocks.forEach((block, bi) => {
    const fin = b.state();
    b.final[fin] = bi;
    for (const s of block.sentences) {
      const at = b.state();
      b.arc(body, EPS, at);
      b.arc(expr(at, s.expr, block.rules, [], s.where), EPS, fin);
    }
    for (const w of skipLoop.length ? set.skipWords : []) {
      const sp = b.state();
      b.arc(fin, SPACE, sp);
      const end = text(sp, w, { file: set.files[0] ?? '', line: 1 }, `skip word "${w}"`);
      b.arc(end, EPS, fin);
    }
  });
  const automaton: Automaton = {
    states: b.n,
    start,
    arcs: Int32Array.from(b.arcs),
    final: Int32Array.from(b.final),
    listEnd: Uint8Array.from(b.listEnd),
    callStart: Int32Array.from(callStart),
  };
  const bytes = automaton.arcs.byteLength + automaton.final.byteLength + automaton.listEnd.byteLength + automaton.callStart.byteLength;
  return { set, automaton, calls, tags, stats: { states: b.n, arcs: b.arcs.length / 4, compileMs: performance.now() - t0, bytes } };
}

/** Reads, parses and compiles sentence files; a bad file throws SentenceError (file, line, construct). */
export function loadSentences(files: string[]): Grammar {
  const texts = files.map((file) => {
    try {
      return { file, text: fs.readFileSync(file, 'utf8') };
    } catch (err) {
      throw new SentenceError(file, 0, 'file', `cannot be read: ${(err as Error).message}`);
    }
  });
  const g = compileSentences(parseSentenceFiles(texts));
  if (!g.set.blocks.length) throw new SentenceError(files.join(', '), 0, 'intents', 'no sentences in these files');
  return g;
}

// ---- matching a sentence ----

export interface IntentMatch {
  name: string;
  /** slot -> the list value's `out` (ranges: the number; wildcards: the words said) */
  slots: Record<string, unknown>;
  /** how well the audio fits the sentence next to the unrestricted decoding, 0..1 (1: as well) */
  score: number;
}

const byState = new WeakMap<Automaton, { first: Int32Array; order: Int32Array }>();
function arcsByState(a: Automaton): { first: Int32Array; order: Int32Array } {
  let r = byState.get(a);
  if (r) return r;
  const first = new Int32Array(a.states + 1);
  for (let k = 0; k < a.arcs.length; k += 4) first[a.arcs[k] + 1]++;
  for (let s = 0; s < a.states; s++) first[s + 1] += first[s];
  const order = new Int32Array(a.arcs.length / 4);
  const fill = first.slice(0, a.states);
  for (let k = 0; k < a.arcs.length; k += 4) order[fill[a.arcs[k]]++] = k;
  r = { first, order };
  byState.set(a, r);
  return r;
}

/** The intent and slots of a sentence the automaton accepts (decoded or typed text), or null. Where a sentence
 * has several readings, the one with fewer words taken by wildcards wins, then the earlier intent. */
export function matchSentence(g: Grammar, sentence: string): Omit<IntentMatch, 'score'> | null {
  // text as a person would type it is spelled as the recognizer would ("Set 5%!" -> "set five percent")
  let text: string;
  try {
    text = normalizeText(sentence, () => {
      throw new Error('unspeakable');
    }).trim();
  } catch {
    return null;
  }
  const a = g.automaton;
  const { first, order } = arcsByState(a);

  interface Path {
    slots: [string, unknown][];
    wild: number;
    block: number;
  }
  let best: Path | null = null;
  const better = (p: Path) => !best || p.wild < best.wild || (p.wild === best.wild && p.block < best.block);
  const dead = new Set<string>();
  let budget = 200000; // bounded search: pathological templates give up instead of hanging
  // state, return state, call, position in text, wildcard start, slots so far
  const walk = (s: number, ret: number, call: number, pos: number, spaced: boolean, slots: [string, unknown][], wild: number): boolean => {
    if (--budget < 0) return false;
    const key = `${s},${ret},${call},${pos},${spaced}`;
    if (dead.has(key)) return false;
    let found = false;
    if (ret < 0 && a.final[s] >= 0 && pos === text.length) {
      const p = { slots, wild, block: a.final[s] };
      if (better(p)) best = p;
      found = true;
    }
    if (ret >= 0 && a.listEnd[s]) found = walk(ret, -1, -1, pos, spaced, slots, wild) || found;
    for (let j = first[s]; j < first[s + 1]; j++) {
      const k = order[j];
      const label = a.arcs[k + 1];
      const to = a.arcs[k + 2];
      const aux = a.arcs[k + 3];
      if (label === EPS) {
        const tag = aux >= 0 ? g.tags[aux] : null;
        const add: [string, unknown][] = tag && call >= 0 ? [[g.calls[call].slot, g.set.lists.get(tag.list)!.values[tag.value].out]] : [];
        found = walk(to, ret, call, pos, spaced, add.length ? [...slots, ...add] : slots, wild) || found;
      } else if (label === CALL) {
        if (ret < 0) found = walk(a.callStart[aux], to, aux, pos, spaced, slots, wild) || found;
      } else if (label === WILD) {
        if (ret >= 0) continue;
        // free text: every end at a word boundary (the template resumes after a space or at the end)
        const startPos = text[pos] === ' ' ? pos + 1 : pos;
        for (let e = startPos + 1; e <= text.length; e++) {
          if (e < text.length && text[e] !== ' ') continue;
          const words = text.slice(startPos, e);
          if (!words.trim()) continue;
          found = walk(to, -1, -1, e, false, [...slots, [g.calls[aux].slot, words.trim()]], wild + words.split(' ').length) || found;
        }
      } else if (label === SPACE) {
        // template spaces collapse: one in the text, or none where the text already had one
        if (text[pos] === ' ') found = walk(to, ret, call, pos + 1, true, slots, wild) || found;
        else if (spaced || pos === 0 || pos === text.length) found = walk(to, ret, call, pos, spaced, slots, wild) || found;
      } else if (pos < text.length && text.codePointAt(pos) === label) {
        found = walk(to, ret, call, pos + 1, false, slots, wild) || found;
      }
    }
    if (!found) dead.add(key);
    return found;
  };
  walk(a.start, -1, -1, 0, false, [], 0);
  if (!best) return null;
  const p = best as Path;
  const block = g.set.blocks[p.block];
  const slots: Record<string, unknown> = { ...block.slots };
  for (const [k, v] of p.slots) slots[k] = v;
  return { name: block.intent, slots };
}

// ---- sampling ----

/** n random sentences of a grammar (a walk through the automaton: uniform over each state's arcs,
 * wildcards filled from `fill`), normalized; for language-model text and benchmarks. */
export function sampleSentences(g: Grammar, n: number, seed = 1, fill = ['something']): string[] {
  const a = g.automaton;
  const { first, order } = arcsByState(a);
  let x = seed >>> 0;
  const rnd = () => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = Math.imul(x ^ (x >>> 15), 1 | x);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = a.start;
    let ret = -1;
    let text = '';
    for (let steps = 0; steps < 10000; steps++) {
      if (ret < 0 && a.final[s] >= 0) break;
      if (ret >= 0 && a.listEnd[s] && (first[s] === first[s + 1] || rnd() < 0.5)) {
        s = ret;
        ret = -1;
        continue;
      }
      // the start's skip-word loops are not taken: its epsilon arcs lead into the sentences
      const arcs: number[] = [];
      for (let j = first[s]; j < first[s + 1]; j++)
        if (s !== a.start || !g.set.skipWords.length || a.arcs[order[j] + 1] === EPS) arcs.push(order[j]);
      if (!arcs.length) break;
      const k = arcs[Math.floor(rnd() * arcs.length)];
      const [label, to, aux] = [a.arcs[k + 1], a.arcs[k + 2], a.arcs[k + 3]];
      if (label === CALL) {
        ret = to;
        s = a.callStart[aux];
        continue;
      }
      if (label === WILD) text += fill[Math.floor(rnd() * fill.length)];
      else if (label !== EPS) text += String.fromCodePoint(label);
      s = to;
    }
    out.push(text.replace(/\s+/g, ' ').trim());
  }
  return out;
}
