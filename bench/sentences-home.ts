// A large synthetic home for the sentence compiler and decoder: N device names, A areas and
// templates written in the style of Home Assistant's English intents (turn on/off, toggle,
// brightness, colour, covers, climate, media, timers, shopping list with a free-text item, state
// questions). Used by test/sentences.test.ts and bench/sentences.ts.
import { numberWords } from '../daemon/sentences.js';

export const DEVICE_KINDS = [
  'reading lamp',
  'hall light',
  'ceiling fan',
  'desk lamp',
  'floor lamp',
  'heater',
  'speaker',
  'blinds',
  'door',
  'television',
];
export const AREAS = [
  'kitchen',
  'living room',
  'dining room',
  'bedroom',
  'guest bedroom',
  'master bedroom',
  'bathroom',
  'guest bathroom',
  'office',
  'garage',
  'hallway',
  'basement',
  'attic',
  'laundry room',
  'porch',
  'patio',
  'garden',
  'nursery',
  'playroom',
  'study',
  'library',
  'pantry',
  'gym',
  'workshop',
  'sunroom',
  'den',
  'mudroom',
  'loft',
  'cellar',
  'front yard',
];

/** Names like "reading lamp seventeen": kinds x numbers, n in all. */
export function deviceNames(n: number): string[] {
  const per = Math.ceil(n / DEVICE_KINDS.length);
  const out: string[] = [];
  for (let i = 1; i <= per; i++) for (const k of DEVICE_KINDS) if (out.length < n) out.push(`${k} ${numberWords(i)}`);
  return out;
}

const TEMPLATES = `
language: en
intents:
  HassTurnOn:
    data:
      - sentences:
          - "<turn> on <name>"
          - "<turn> <name> on"
          - "(activate|enable|start) <name>"
      - sentences:
          - "<turn> on [all] [the] (light|lights) in <area>"
          - "<turn> on [all] [the] <area> (light|lights)"
          - "<turn> [all] [the] (light|lights) in <area> on"
          - "(light up|brighten) <area>"
        slots: { domain: light }
      - sentences:
          - "open <name>"
          - "(open|raise) [the] (blinds|curtains|shades) in <area>"
        slots: { domain: cover }
  HassTurnOff:
    data:
      - sentences:
          - "<turn> off <name>"
          - "<turn> <name> off"
          - "(deactivate|disable|stop) <name>"
      - sentences:
          - "<turn> off [all] [the] (light|lights) in <area>"
          - "<turn> off [all] [the] <area> (light|lights)"
          - "<turn> [all] [the] (light|lights) in <area> off"
        slots: { domain: light }
      - sentences:
          - "close <name>"
          - "(close|lower) [the] (blinds|curtains|shades) in <area>"
        slots: { domain: cover }
  HassToggle:
    data:
      - sentences: ["toggle <name>", "toggle [the] (light|lights) in <area>"]
  HassLightSet:
    data:
      - sentences:
          - "[<set>] <name> brightness [to] <brightness>"
          - "[<set>] [the] brightness of <name> [to] <brightness>"
          - "[<set>] <name> to <brightness>"
          - "dim <name> [to] <brightness>"
      - sentences:
          - "[<set>] [the] brightness (in|of) <area> [to] <brightness>"
          - "[<set>] <area> brightness [to] <brightness>"
        slots: { name: all }
      - sentences:
          - "[<set>] <name> [color] [to] {color}"
          - "[<set>] [the] color of <name> [to] {color}"
          - "make <name> {color}"
  HassSetPosition:
    data:
      - sentences: ["[<set>] <name> position to {position} [percent]", "(open|raise|lower) <name> to {position} [percent]"]
  HassClimateSetTemperature:
    data:
      - sentences:
          - "[<set>] [the] (temperature|thermostat|heat) [in <area>] to <temperature>"
          - "(make|set) it <temperature> [in <area>]"
  HassClimateGetTemperature:
    data:
      - sentences:
          - "<what_is> the temperature [in <area>]"
          - "how (hot|cold|warm) is it [in <area>]"
  HassGetState:
    data:
      - sentences:
          - "is <name> (on|off|open|closed|locked|unlocked)"
          - "<what_is> the (state|status) of <name>"
          - "are [the] (lights|windows|doors) in <area> (on|off|open|closed)"
  HassMediaPause:
    data: [{ sentences: ["pause [the] (music|tv|media) [in <area>]", "pause <name>"] }]
  HassMediaUnpause:
    data: [{ sentences: ["(resume|unpause|continue) [the] (music|tv|media) [in <area>]", "resume <name>"] }]
  HassMediaNext:
    data: [{ sentences: ["(next|skip) [track|song] [on <name>]", "skip [to the next] (track|song)"] }]
  HassSetVolume:
    data: [{ sentences: ["[<set>] [the] volume [of <name>] to {volume} [percent]", "turn <name> volume to {volume} [percent]"] }]
  HassStartTimer:
    data:
      - sentences:
          - "(set|start) [a] timer for {minutes} minute[s]"
          - "(set|start) [a] {minutes} minute timer"
          - "(set|start) [a] timer for {seconds} second[s]"
  HassCancelTimer:
    data: [{ sentences: ["(cancel|stop) [the] timer", "(cancel|stop) [the] {minutes} minute timer"] }]
  HassGetCurrentTime:
    data: [{ sentences: ["<what_is> the time", "what time is it [now]"] }]
  HassGetWeather:
    data: [{ sentences: ["<what_is> the weather [like] [today|tomorrow]", "(will|is) it (rain|snow)[ing] [today|tomorrow]"] }]
  HassShoppingListAddItem:
    data: [{ sentences: ["add {item} to [my|the] shopping list", "put {item} on [my|the] shopping list"] }]
  HassNevermind:
    data: [{ sentences: ["(never mind|nevermind|cancel that|forget it)"] }]
lists:
  color:
    values: [white, black, red, orange, yellow, green, blue, purple, pink, brown]
  brightness:
    range: { from: 0, to: 100 }
  position:
    range: { from: 0, to: 100 }
  volume:
    range: { from: 0, to: 100 }
  temperature:
    range: { from: 0, to: 100 }
  minutes:
    range: { from: 1, to: 120 }
  seconds:
    range: { from: 1, to: 120 }
  temperature_unit:
    values: [celsius, fahrenheit]
  item:
    wildcard: true
#LISTS
expansion_rules:
  name: "[the] {name}"
  area: "[the] {area}"
  what_is: "(what's|whats|what is)"
  brightness: "{brightness} [percent]"
  turn: "(turn|switch)"
  set: "(set|change|adjust)"
  temperature: "{temperature} [degrees] [{temperature_unit}]"
skip_words: ["please", "can you"]
`;

/** The sentence file text of a home with `names` device names and `areas` areas. */
export function largeHome(names: number, areas: number): { text: string; names: string[]; areas: string[] } {
  const ns = deviceNames(names);
  const as = AREAS.slice(0, areas);
  const values = (xs: string[]) => xs.map((x) => `      - ${JSON.stringify(x)}`).join('\n');
  const text = TEMPLATES.replace('#LISTS', `  name:\n    values:\n${values(ns)}\n  area:\n    values:\n${values(as)}`);
  return { text, names: ns, areas: as };
}
