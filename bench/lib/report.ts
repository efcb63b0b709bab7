// Renders bench/RESULTS.md from runs/bench/results/*.json (written by the bench pieces).
import fs from 'node:fs';
import path from 'node:path';
import { readResult, reportDir, repoRoot } from './common.js';

const f = (v: unknown, digits = 1): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–');
const ms = (seconds: unknown): string => (typeof seconds === 'number' ? f(seconds * 1000, 0) : '–');
const small = (v: number): string => (Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(1) : v.toFixed(4));
const pct = (v: unknown): string => (typeof v === 'number' && Number.isFinite(v) ? `${(100 * v).toFixed(1)} %` : '–');
const table = (head: string[], rows: (string | number)[][]): string =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

export interface RunInfo {
  date: string;
  commit: string;
  machine: Record<string, string | number>;
  total_s: number;
  steps: { name: string; seconds: number; ok: boolean; error?: string; reused?: string }[];
  plots: string[];
}

const HOW_TO = `## How to run

\`npm run bench\` runs every piece below one after the other (each engine in a process of its own),
rewrites this file and the plots in \`bench/plots/\`; on a 2-core x86-64 machine it takes 11 to 16
minutes (this run's time is above). Raw results and caches go to \`runs/bench/\` (ignored by git).

What it needs (Debian bookworm):

- \`apt-get install -y mosquitto pocketsphinx pocketsphinx-en-us espeak-ng flite python3-torch python3-torchaudio\`
- \`apt-get install -y python3-matplotlib python3-onnx\` (the plots, drawn by \`/usr/bin/python3 bench/plots.py\`;
  the int8 ONNX encoders, made by \`bench/onnx/quantize_int8.py\`)
- \`npm install\` (builds the addon; \`onnxruntime-node\` is a devDependency and
  \`ONNXRUNTIME_NODE_INSTALL=skip\` is enough: its CPU binaries come inside the package)
- the models in \`models/\`, the bundled \`samples/sample.wav\` + \`sample.json\`, and the recordings in
  \`../shared/data\` (FSDD takes 0-4).
- \`bench/onnx/\` holds the ONNX exports of the F32 model's encoder (\`bench/onnx_export.py\`, Debian's
  torch) and their int8 versions, generated (not in git): the bench makes them when missing or when \`models/earshot-en-f32.gguf\` changes.
  \`bench/onnx/quantize.py\` makes the int8 files with onnxruntime's own \`quantize_dynamic\` instead,
  where Python's onnxruntime is installed (Debian has none).

Pieces, each runnable alone (each prints one JSON object as its last line):
\`node --import=tsx bench/recognizer.ts\`, \`bench/pocketsphinx.ts\`, \`bench/e2e.ts\`, \`bench/lib/pvad.ts\`,
\`bench/lib/training.ts\`; \`node --import=tsx bench/run-all.ts --only e2e,report\` redoes some and
renders the rest from the last results. \`bash bench/lib/smoke.sh\` tries the whole plumbing on a random
transducer (to /tmp, not here). Kernel and engine micro-benchmarks (\`npm run bench:kernels\`,
\`npm run bench:engine\`) run as steps too; their figures are in section 5.`;

function recognizerSection(): string {
  const r = readResult('recognizer');
  const ps = readResult('pocketsphinx');
  if (!r) return '## 1. Recognizer\n\nNot measured in this run (see the failures below).';
  const int4 = r.table.find((t: any) => t.name === 'earshot-int4');
  const rows = r.table.map((t: any) => [
    `**${t.name}**`,
    f(t.file_mib, 2),
    f(t.load_ms, 0),
    f(t.peak_rss_mib, 1),
    f(t.encoder_ms_per_audio_s, 2),
    `${f(t.encoder_ms_per_audio_s / int4.encoder_ms_per_audio_s, 2)}×`,
    f(t.encoder_one_chunk_ms_per_audio_s, 2),
    f(t.rtf_fbank_encoder, 4),
    t.rtf_streaming_decode === null ? '–' : f(t.rtf_streaming_decode, 4),
    pct(t.wer.fsdd?.wer),
    pct(t.wer.synth?.wer),
    pct(t.same_text_as_f32),
  ]);
  const psRows = ps
    ? [
        [
          `**pocketsphinx** ${ps.version}`,
          f(ps.model_mib, 1),
          f(ps.load_cpu_s * 1000, 0),
          f(ps.peak_rss_mib, 1),
          '–',
          '–',
          '–',
          '–',
          `${f(ps.rtf_without_load, 3)} (${f(ps.rtf, 3)} with loading)`,
          pct(ps.wer.fsdd?.wer),
          pct(ps.wer.synth?.wer),
          '–',
        ],
      ]
    : [];
  const emis = Object.entries(r.emission_latency ?? {}).map(([k, v]: [string, any]) => [
    k,
    v.utterances,
    f(v.p50_ms, 0),
    f(v.p90_ms, 0),
    f(v.mean_ms, 0),
  ]);
  const byVoice = r.table
    .filter((t: any) => t.wer_by_voice)
    .map(
      (t: any) =>
        `${t.name}: ${Object.entries(t.wer_by_voice)
          .map(([v, w]: [string, any]) => `${v} ${pct(w.wer)}`)
          .join(', ')}`,
    );
  const diffs = r.table
    .filter((t: any) => t.encoder_vs_f32)
    .map((t: any) => `${t.name} ${small(t.encoder_vs_f32.max_abs)} max, ${small(t.encoder_vs_f32.rel_rms)} relative RMS`);
  return `## 1. Recognizer (one thread)

${r.clips.fsdd} FSDD clips (takes 0-4, 8 kHz, 4 speakers) and ${r.clips.synth} utterances of the two
held-out synthetic voices (\`flite:rms\`, \`espeak:en-us+f3\`; the recipe's dev texts, synthesized
here), ${f(r.audio_s / 60, 1)} minutes of audio in all, each clip given the silence a live segment has around its speech
(the daemon's ${f((r.padding?.lead_s ?? 0) * 1000, 0)} ms pre-roll before, its ${f((r.padding?.trail_s ?? 0) * 1000, 0)} ms closing stretch after; every engine
gets the same audio). Earshot kernel: \`${r.kernel}\`.

${table(['engine', 'file (MiB)', 'load (ms)', 'peak RSS (MiB)', 'encoder CPU ms per audio s', 'time vs int4', 'same, one chunk', 'RTF fbank + encoder', 'RTF streaming decode', 'WER FSDD', 'WER held-out voices', 'same text as F32'], [...rows, ...psRows])}

- **Encoder time on equal inputs**: Earshot's \`debugEncode\` (chunk by chunk with the attention and
  convolution caches, the model's chunk size, as the daemon runs it) minus its \`debugFbank\` time,
  against \`session.run\` of the ONNX export of the same encoder on the same fbank (the engine's).
  **onnx-fp32 / onnx-int8**: a graph of one chunk with explicit caches (keys and values of the last
  ${'L'} frames, the convolution's last K-1 inputs), called chunk by chunk as a live stream calls it.
  **-whole**: the whole utterance in one call with the streaming chunk mask, which lets onnxruntime
  run each layer as one matrix product over the utterance, a batching a live stream does not have.
  Both compute what the engine computes (ONNX fp32 vs Earshot F32: ${diffs.filter((d: string) => d.startsWith('onnx-fp32')).join('; ')}).
  int8: ${r.int8_quantization ? `${r.int8_quantization.method}; weights ${r.int8_quantization.weight_type}, inputs ${r.int8_quantization.activations}, ${r.int8_quantization.matmuls_quantized ?? '?'} MatMuls` : '–'}
  (the GPU machine's Python onnxruntime, meant for this, was out of reach: the team's budget for it was spent).
  "Same, one chunk": Earshot's encoder over each utterance as a single chunk, the batching
  onnxruntime gets (a different mask, so only its time counts).
  Every timed encoder or fbank call runs twice and the least CPU time counts (the machine is
  shared; interruptions only add time). fbank alone: ${f(r.fbank_ms_per_audio_s, 2)} ms per audio
  second (the same for every row).
- **RTF streaming decode**: the daemon's path (stream fed 100 ms pieces, greedy search, finalize), CPU
  time of all threads over audio time. ONNX rows decode greedily with the F32 model's joiner
  (\`debugJoint\`, not timed). pocketsphinx: \`pocketsphinx_batch\` over all files (two processes,
  half the files each; general en-us acoustic and language model, dictionary), CPU time from
  \`/usr/bin/time\`; loading (a run over 0.5 s of silence) subtracted, and its load column is CPU ms.
- **Peak RSS**: the whole process (node ${f(r.node_idle_peak_rss_mib, 1)} MiB alone) after the run;
  each engine in its own process. Encoder output vs Earshot F32: ${diffs.join('; ')}.
- **Resampling**: the FSDD clips are 8 kHz; the daemon's WAV reader resamples them to 16 kHz. The
  same int4 decode on the same clips resampled by torchaudio (as the recipe's training data was):
  FSDD WER ${pct(r.fsdd_resampler_check?.torchaudio?.wer)} against ${pct(r.fsdd_resampler_check?.daemon?.wer)} through the daemon's resampler${Math.abs((r.fsdd_resampler_check?.torchaudio?.wer ?? 0) - (r.fsdd_resampler_check?.daemon?.wer ?? 0)) > 0.01 ? " (the two resamplers differ above 4 kHz, which the model learnt from torchaudio's)" : " (the daemon's resampler is torchaudio's filter since commit b714d08; before it, 11.0 % against 4.0 %)"}.
- WER: word edits over reference words, summed over the set. By held-out voice: ${byVoice.join('; ')}${
    ps?.wer_by_voice
      ? `; pocketsphinx: ${Object.entries(ps.wer_by_voice)
          .map(([v, w]: [string, any]) => `${v} ${pct(w.wer)}`)
          .join(', ')}`
      : ''
  }.${r.notes.length ? `\n- ${r.notes.join('\n- ')}` : ''}
${emis.length ? `\nToken emission latency (held-out voices, utterances decoded without error; the last token's time, taken at the end of the 40 ms frame that emits it as training/evaluate.py does, minus the end of speech, 20 ms before the synthesized clip's end):\n\n${table(['engine', 'utterances', 'p50 (ms)', 'p90 (ms)', 'mean (ms)'], emis)}\n` : ''}
![speed vs size](plots/speed_vs_size.png)

![token emission times](plots/emissions.png)`;
}

/** Issue 15: WER on people the model never heard (bench/dev_wer.ts, through the engine). */
function devSection(): string {
  const d = readResult('dev_wer');
  if (!d) return '';
  const names = Object.keys(d.results);
  const sets = Object.keys(d.results[names[0]]);
  const rows = sets.map((k) => [
    k.replace('group:', '**') + (k.startsWith('group:') ? '**' : ''),
    String(d.results[names[0]][k].words),
    ...names.map((n) => (d.results[n][k] ? `${f(100 * d.results[n][k].wer, 1)} %` : '–')),
  ]);
  return `## Recognizer on dev speakers (\`node --import=tsx bench/dev_wer.ts\`, issue 15)\n\nGreedy, through the engine, on the \`dev\` rows of ../shared/data (speakers never trained on) and the two held-out synthetic voices (quiet, and pink noise at 15 dB SNR); groups sum errors and words. Targets: words at most 5 %, held-out voices at most 5 %, int4 within 5 % relative of F32.\n\n${table(['set', 'words', ...names], rows)}`;
}

function pvadSection(): string {
  const p = readResult('pvad');
  if (!p) return '## 2. Personal VAD\n\nNot measured in this run (see the failures below).';
  const m = p.metrics;
  const label = (name: string) =>
    name === 'earshot_engine'
      ? `**Earshot pVAD, engine** (addon, \`${p.pvad}\`)`
      : name === 'file'
        ? "Earshot pVAD, the file's arithmetic in PyTorch"
        : name.startsWith('float_')
          ? `pVAD float (PyTorch), ${name.slice(6)} conditioning`
          : name === 'silero'
            ? 'Silero VAD (onnxruntime-node)'
            : name === 'webrtc'
              ? 'WebRTC VAD (npm webrtcvad)'
              : name;
  const order = ['earshot_engine', 'file', ...Object.keys(m).filter((k) => k.startsWith('float_')), 'silero', 'webrtc'];
  const rows = order
    .filter((k) => m[k])
    .map((k) => {
      const v = m[k];
      return [
        label(k),
        f(v.map_micro, 3),
        f(v.ap_non_speech, 3),
        f(v.ap_target, 3),
        f(v.ap_other, 3),
        f(v.speech_ap ?? v.speech_ap_zero_embedding, 3),
        f(v.speech_ap_tol100ms ?? v.speech_ap_zero_embedding_tol100ms, 3),
        f(v.cpu_seconds_per_audio_second * 1000, 2),
      ];
    });
  // end_of_segment: one rule ({trail_ms, ...}) or a sweep keyed by trailing stretch ({"300ms": {...}}).
  const eos = m.earshot_engine?.end_of_segment ?? m.file?.end_of_segment;
  const sweepRows: any[] = eos ? ('trail_ms' in eos ? [eos] : Object.values(eos)) : [];
  const daemonTrail = daemonTrailingMs();
  const eosRow = (r: any) => [
    f(r.latency_p50_ms, 0),
    f(r.latency_p90_ms, 0),
    `${r.cut_commands}/${r.commands}`,
    r.cut_at_long_pause ?? '–',
    r.cut_mid_speech ?? '–',
    r.missed_commands,
    r.false_segments,
  ];
  const sweep = sweepRows.map((r: any) => [`${r.trail_ms} ms${r.trail_ms === daemonTrail ? ' (daemon default)' : ''}`, ...eosRow(r)]);
  // bench/pvad_segments.py runs the daemon's own segmenter (speaker turns, speaker check) by name.
  const seg: any[] = Array.isArray(p.segments) ? p.segments : [];
  const named = (name: string, group?: string) => seg.find((r) => r.name === name && r.group === group);
  const daemonRows = [
    named('defaults, trailing 200 ms'),
    named('defaults, trailing 250 ms'),
    named('daemon defaults'),
    named('defaults, trailing 400 ms'),
    named('defaults, trailing 600 ms'),
  ].filter(Boolean);
  const daemonSweep = daemonRows.map((r: any) => [
    `${r.trail_ms} ms${r.trail_ms === daemonTrail ? ' (daemon default)' : ''}`,
    ...eosRow(r),
  ]);
  const turnCols = (r: any) => [f(r.turn_latency_p50_ms, 0), f(r.turn_latency_p90_ms, 0), f(r.other_held_s, 0)];
  const rules = [
    ['plain: silence only, no speaker turns or check', named('plain (turns off)')],
    ['speaker turns, no speaker check', named('check off')],
    ['speaker turns + speaker check (daemon defaults)', named('daemon defaults')],
  ]
    .filter(([, r]) => r)
    .map(([n, r]: any) => [n, ...eosRow(r), ...turnCols(r)]);
  const groups = ['libri', 'espeak', 'flite']
    .map((g) => named('daemon defaults', g))
    .filter(Boolean)
    .map((r: any) => [`${r.group} (trailing ${r.trail_ms} ms)`, ...eosRow(r)]);
  const rule = sweepRows[0];
  const eer = m.spkenc_eer
    ? Object.entries(m.spkenc_eer)
        .filter(([k]) => k !== 'trials' && k !== 'target_trials')
        .map(([k, v]) => `${k} ${pct(v)}`)
        .join(', ')
    : '–';
  const eosHead = ['p50 (ms)', 'p90 (ms)', 'commands cut', 'cut at a long pause', 'cut mid-speech', 'missed', 'false segments'];
  return `## 2. Personal VAD

Development mixtures of speakers never used in training (bench/pvad_devset.py: ${m.dev?.mixtures} mixtures,
${f(m.dev?.minutes, 1)} minutes, ${m.dev?.speakers} speakers), measured by the pvad helper's bench/pvad_eval.py (AP per
class and micro mAP as Personal VAD reports them, the target enrolled; "speech AP" = speech vs
non-speech with no one enrolled, score 1 - p(non-speech)), bench/pvad_baselines.ts (Silero, WebRTC
and the engine's pVAD in one process, on the same 10 ms frames) and bench/pvad_segments.py.
Cost: CPU ms per second of audio, one thread.

${table(['model', 'mAP', 'AP non-speech', 'AP target', 'AP other', 'speech AP', 'speech AP, 100 ms tolerance', 'CPU ms per audio s'], rows)}

Speaker encoder EER (enrollment vs test pieces): ${eer}.

End of segment on the same mixtures (${m.earshot_engine?.end_of_segment ? "the engine's" : "the file's"} enrolled posteriors), silence rule alone: a segment opens after
${rule?.min_on_ms ?? '–'} ms above ${rule?.on ?? '–'} and closes after a trailing stretch at or below ${rule?.off ?? '–'}; latency = close
minus the end of the target's speech; a cut = a segment closed inside a command (at a labelled pause
longer than the stretch, which any silence rule cuts, or mid-speech where the model lost the speaker).

${sweep.length ? table(['trailing stretch', ...eosHead], sweep) : 'Not measured.'}
${
  rules.length
    ? `
The daemon's segmenter (\`daemon/segmenter.ts\` run by bench/pvad_segments.py on the same posteriors, trailing 300 ms, open after 100 ms):
speaker turns (speech another voice takes over without a pause holds the segment up to 1.2 s; a new run scored as
another voice does not) and the speaker check (the speaker encoder on the disputed audio decides). "Turns": 120 extra
mixtures where another speaker starts 0-300 ms after the target stops; turn latency = how long the segment stays open
after the target's end; other held = other speakers' speech inside segments (s).

${table(['rule', ...eosHead, 'turns p50 (ms)', 'turns p90 (ms)', 'other held (s)'], rules)}
`
    : ''
}${
    daemonSweep.length
      ? `
The daemon's segmenter against the trailing stretch:

${table(['trailing stretch', ...eosHead], daemonSweep)}
`
      : ''
  }${groups.length ? `\nBy speaker group (the daemon's segmenter):\n\n${table(['group', ...eosHead], groups)}` : ''}`;
}

/** The daemon's default segmenter.trailing_ms, from the shipped configuration file. */
function daemonTrailingMs(): number | undefined {
  try {
    const yaml = fs.readFileSync(path.join(repoRoot, 'config', 'earshot.yaml'), 'utf8');
    const v = /^\s*trailing_ms:\s*(\d+)/m.exec(yaml)?.[1];
    return v ? Number(v) : undefined;
  } catch {
    return undefined;
  }
}

function e2eSection(): string {
  const e = readResult('e2e');
  if (!e) return '## 3. End to end\n\nNot measured in this run (see the failures below).';
  const rt = e.realtime;
  const mem = e.memory;
  return `## 3. End to end (daemon, real mosquitto, real time)

\`node bin/earshot run --input ${e.sample} --realtime --mqtt-url mqtt://127.0.0.1:PORT --site ...\` against
${e.broker} on a free loopback port; a subscriber in the bench process records when each transcript
arrives (QoS 1). The sample (${f(e.sample_s, 1)} s, ${e.truth_segments} utterances) is played ${rt.runs.length} time(s) in real time.
Latency = arrival minus the true end of speech from \`samples/sample.json\` (the file starts playing
when the daemon logs "earshot running"). No speaker is enrolled: the pVAD runs as a plain VAD.

${table(
  ['measure', 'value'],
  [
    ['end-of-segment latency p50', `${f(rt.latency_p50_ms, 0)} ms`],
    ['end-of-segment latency p90', `${f(rt.latency_p90_ms, 0)} ms`],
    ['end-of-segment latency max', `${f(rt.latency_max_ms, 0)} ms`],
    [
      "same, from the daemon's own VAD speech end, p50 / p90",
      `${f(rt.latency_from_vad_end_p50_ms, 0)} / ${f(rt.latency_from_vad_end_p90_ms, 0)} ms`,
    ],
    ['utterances transcribed', `${rt.received}/${rt.segments}`],
    [
      'WER on the sample (its commands were picked among those the model gets right, so no accuracy figure)',
      rt.wer ? pct(rt.wer.wer) : '–',
    ],
    ['daemon CPU per second of audio (real time)', `${f(rt.cpu_s_per_audio_s * 1000, 1)} ms`],
  ],
)}

Memory: the sample back to back, ${f(mem.audio_s / 60, 1)} minutes of audio, written as raw PCM to the daemon's
stdin source at ${mem.speed}× real time (${f(mem.wall_s, 0)} s; faster than a microphone, the same work per second of
audio)${
    mem.env
      ? `, with the environment \`systemd/earshot.service\` sets (${
          Object.entries(mem.env)
            .map(([k, v]) => `\`${k}=${v}\``)
            .join(', ') || 'none'
        })`
      : ''
  }.
${
  mem.parts
    ? `The daemon logs its memory every ${mem.sampled_every_ms} ms (\`EARSHOT_MEMORY_LOG_MS\`) with the audio it has received;
warm-up = the first ${f(mem.warmup_min, 1)} minutes of audio; levels are medians over a minute; slopes are least-squares fits,
in MiB per minute of audio. It grows if the RSS slope over the second half is above ${f(mem.growth_limit_mib_per_min * 10, 0)} MiB per 10 minutes.`
    : 'RSS of the daemon process sampled from /proc every 250 ms while audio flows.'
}

${table(
  ['measure', 'value'],
  [
    [
      'RSS at start / after warm-up / end / max',
      `${f(mem.rss_start_mib)} / ${mem.rss_after_warmup_mib === undefined ? '–' : f(mem.rss_after_warmup_mib)} / ${f(mem.rss_end_mib)} / ${f(mem.rss_max_mib)} MiB`,
    ],
    ...(mem.rss_max_minus_min_after_warmup_mib === undefined
      ? []
      : [['RSS max - min after warm-up', `${f(mem.rss_max_minus_min_after_warmup_mib)} MiB`]]),
    ['RSS slope over the second half', `${f(mem.slope_mib_per_audio_min_second_half, 4)} MiB per minute of audio`],
    ...(mem.slope_mib_per_audio_min_after_warmup === undefined
      ? []
      : [['RSS slope after warm-up', `${f(mem.slope_mib_per_audio_min_after_warmup, 4)} MiB per minute of audio`]]),
    ['grows (more than 1 MiB per 10 minutes)', mem.grows ? '**yes**' : 'no'],
    ['CPU per second of audio', `${f(mem.cpu_s_per_audio_s * 1000, 1)} ms`],
    [
      'transcripts received',
      `${mem.transcripts} (the real-time run's count × ${mem.repeats} repeats: ${mem.transcripts_expected ?? '–'}; segments can merge across the joins)`,
    ],
  ],
)}
${
  mem.parts
    ? `
Where the memory is (MiB; V8's figures from \`process.memoryUsage()\` in the daemon, the rest from \`/proc/PID/smaps\`;
${mem.major_gcs} full garbage collections during the run):

${table(
  ['part', 'start', 'after warm-up', 'end', 'max - min after warm-up', 'slope, second half (MiB/min)'],
  [
    ['V8 heap (committed)', mem.parts.v8_heap_total],
    ['V8 heap in use after a full GC (live JS objects)', mem.parts.v8_heap_live_after_major_gc],
    ['RSS outside the V8 heap (code, engine, malloc, ArrayBuffer contents)', mem.parts.outside_v8_heap],
    ['ArrayBuffer contents', mem.parts.array_buffers],
    ['glibc main arena ([heap])', mem.parts.malloc_main_arena],
    ...(mem.parts.malloc_thread_arenas
      ? [["glibc thread arenas (the engine's decoding threads, libuv's pool)", mem.parts.malloc_thread_arenas]]
      : []),
    ['all anonymous mappings (V8 heap, thread arenas, stacks)', mem.parts.anonymous],
  ].map(([name, t]: any[]) => [
    name,
    f(t.start_mib),
    f(t.after_warmup_mib),
    f(t.end_mib),
    f(t.max_minus_min_after_warmup_mib),
    f(t.slope_second_half, 4),
  ]),
)}
`
    : ''
}
![sample timeline](plots/sample_timeline.png)

![latency](plots/latency.png)

![RSS](plots/rss.png)`;
}

/** Issue 17: decoding restricted to sentence files, and the no-match rules (bench/sentences.ts). */
function sentencesSection(): string {
  const s = readResult('sentences');
  if (!s) return '';
  const p = (v: unknown) => `${f(v)} %`;
  const o = s.out_of_grammar;
  const c = s.compile;
  const rows = [
    [
      'in-grammar commands (held-out voices) exactly right: at least 95 %',
      `${p(s.in_grammar.exact_sentence_pct)} of ${s.in_grammar.utterances} (intent and slots ${p(s.in_grammar.exact_intent_and_slots_pct)}; greedy text ${p(s.in_grammar.greedy_exact_pct)})`,
      s.in_grammar.exact_sentence_pct >= 95 ? 'yes' : '**no**',
    ],
    [
      'Speech Commands dev words with a words file: at least 95 %',
      `${p(s.speech_commands.exact_word_pct)} of ${s.speech_commands.utterances} (greedy ${p(s.speech_commands.greedy_exact_pct)})`,
      s.speech_commands.exact_word_pct >= 95 ? 'yes' : '**no**',
    ],
    [
      'out-of-grammar LibriSpeech + Common Voice dev matched to an intent: at most 5 %',
      `${p(s.out_of_grammar_librispeech_cv_matched_pct)} (VCTK ${p(o.vctk?.matched_pct)}, CMU ARCTIC ${p(o['cmu-arctic']?.matched_pct)})`,
      s.out_of_grammar_librispeech_cv_matched_pct <= 5 ? 'yes' : '**no**',
    ],
    ['CPU with the sentences at most 1.5x greedy', `${f(s.cost.ratio, 2)}x`, s.cost.ratio <= 1.5 ? 'yes' : '**no**'],
    [
      `a home of ${c.names} names, ${c.areas} areas compiles well under a second`,
      `${c.compile_ms} ms, ${c.states} states, ${f(c.automaton_bytes / 1e6, 2)} MB`,
      c.compile_ms < 1000 ? 'yes' : '**no**',
    ],
  ];
  const sweep = (s.coverage_sweep ?? []).map((x: any) => [
    f(x.min_coverage, 2),
    p(x.in_grammar_sentence_kept_pct),
    p(x.speech_commands_word_kept_pct),
    p(x.librispeech_cv_matched_pct),
    p(x.out_of_grammar_matched_pct),
  ]);
  return `## Sentences and intents (\`node --import=tsx bench/sentences.ts\`, issue 17)\n\nModel \`${s.model_file}\`, ${s.sentence_beam} hypotheses, no intent below score ${s.min_score} or coverage ${s.min_coverage} (the sentence's share of the unrestricted text). In-grammar: random sentences of the large home spoken by the two held-out voices; the other sets are dev speakers (the coverage rule was chosen on them).\n\n${table(['target', 'measured', 'met'], rows)}\n\nSentence kept (right ones only) and out-of-grammar matched at other coverage thresholds (score ${s.min_score}):\n\n${table(['min coverage', 'in-grammar right', 'words right', 'LibriSpeech + CV matched', 'all out-of-grammar matched'], sweep)}`;
}

function wyomingSection(): string {
  const w = readResult('wyoming');
  if (!w) return '';
  const c = w.connections;
  const rows = [
    [
      'transcript at most 100 ms after audio-stop (p90; one client, 3 s commands in real time)',
      `p50 ${f(w.single_client.p50_ms)} ms, p90 ${f(w.single_client.p90_ms)} ms (${w.single_client.utterances} utterances)`,
      w.single_client.p90_ms <= 100 ? 'yes' : '**no**',
    ],
    [
      '4 clients at once: no transcript later than 300 ms after its audio-stop',
      `p50 ${f(w.four_clients.p50_ms)} ms, max ${f(w.four_clients.max_ms)} ms, ${w.four_clients.over_300_ms} over 300 ms (${w.four_clients.utterances} utterances)`,
      w.four_clients.over_300_ms === 0 ? 'yes' : '**no**',
    ],
    [
      `RSS flat over connections (${c.total}; the first half warms the allocator up)`,
      `${c.rss.map((r: any) => `${r.connections}: ${f(r.rss_mib)}`).join(', ')} MiB; second half ${f(c.second_half_growth_mib)} MiB`,
      c.second_half_growth_mib <= 5 ? 'yes' : '**no**',
    ],
  ];
  return `## Wyoming server (\`npm run bench:wyoming\`, issue 13)\n\nA real \`earshot serve\` over TCP; the bundled sample's commands as 3 s utterances (machine: ${w.machine}).\n\n${table(['target', 'measured', 'met'], rows)}`;
}

/** Issue 14 without training: the silence rule against the sentence rules (bench/sentence_end.ts). */
function sentenceEndSection(): string {
  const r = readResult('sentence-end');
  if (!r) return '';
  const rows = r.rows.map((x: any) => [
    x.input,
    x.rule,
    `${x.received}/${x.commands}`,
    `${x.p50} / ${x.p90}`,
    String(x.cut_at_pause),
    String(x.cut_mid_speech),
    Object.entries(x.closed_by)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
    x.wer === null ? '–' : `${x.wer} %`,
  ]);
  const pauses = r.pauses_s.map((p: number) => p * 1000).join(', ');
  return [
    '## End of the command: silence against a complete sentence (`node --import=tsx bench/sentence_end.ts`, issue 14)',
    '',
    `The daemon in real time with a real mosquitto (bench/e2e.ts without its memory run), sentences \`test/fixtures/home-sentences.yaml\`: the bundled sample played ${r.plays} times, and ${r.espeak_commands} espeak-ng commands (${r.voices.join(', ')}), ${r.espeak_paused} of them with a pause of ${pauses} ms after an incomplete beginning ("close" ... "the garage door"). Latency: true end of speech to the command's last transcript at the subscriber; cut: a command that came out in more than one transcript (at one of its pauses, or elsewhere: mid-speech). Not rerun by \`npm run bench\`: rendered from its last result.`,
    '',
    table(
      ['input', 'rule', 'commands', 'end of speech to delivery p50 / p90 (ms)', 'cut at a pause', 'cut mid-speech', 'closed by', 'WER'],
      rows,
    ),
    '',
    `- **sentence_complete**: in a pause the engine's look-ahead decode (the stream's state plus 300 ms of silence, \`RecognizerStream.peek\`) finds a sentence that nothing in the files can continue, and the segment closes ${r.guard_ms} ms after the pVAD's speech end; otherwise the silence rule closes it.`,
    `- **incomplete holds** (\`segmenter.sentence_incomplete_ms\`): when what was said so far begins a sentence (and is none yet) and fits the audio as well as the unrestricted decoding, the pause may last ${r.incomplete_ms} ms. A pause inside a wildcard's free text is never taken for a beginning.`,
  ].join('\n');
}

function trainingSection(): string {
  const t = readResult('training');
  if (!t) return '## 4. Training\n\nNot collected in this run.';
  if (!t.loss_tables.length && !t.evals.length) {
    return `## 4. Training: BAT against the full RNN-T loss\n\nNo measurements found in \`${t.reports}/\` (${t.found ? 'the folder has no loss table or evaluation JSON' : 'the folder does not exist'}): the recipe's \`training/measure_loss.py\` (memory, step time) and \`training/evaluate.py\` (emission latency) write them on the GPU machine.`;
  }
  const parts = [
    "## 4. Training: BAT against the full RNN-T loss\n\nFrom the recipe's reports (measured on the GPU machine, not by this bench).",
  ];
  for (const lt of t.loss_tables) {
    parts.push(
      `Memory and step time on the same model and batch (\`${lt.file}\`, ${lt.device ?? 'GPU'}, band ${lt.band ?? '–'}):\n\n${table(
        [
          'batch',
          'seconds',
          'T',
          'U',
          'RNN-T step (ms)',
          'BAT step (ms)',
          'RNN-T time / BAT time',
          'RNN-T peak (MiB)',
          'BAT peak (MiB)',
          'RNN-T memory / BAT memory',
        ],
        lt.rows.map((r: any) => [
          r.batch,
          r.seconds,
          r.T,
          r.U,
          f(r.rnnt.step_ms),
          f(r.bat.step_ms),
          `${f(r.rnnt.step_ms / r.bat.step_ms, 2)}×`,
          f(r.rnnt.peak_mib, 0),
          f(r.bat.peak_mib, 0),
          `${f(r.rnnt.peak_mib / r.bat.peak_mib, 1)}×`,
        ]),
      )}`,
    );
    const lossOnly = lt.rows.filter((r: any) => r.rnnt_loss_only && r.bat_loss_only);
    if (lossOnly.length) {
      parts.push(
        `The loss alone (joiner and lattice, forward and backward, from a fixed encoder output: what differs between the two):\n\n${table(
          [
            'batch',
            'seconds',
            'RNN-T (ms)',
            'BAT (ms)',
            'RNN-T time / BAT time',
            'RNN-T peak (MiB)',
            'BAT peak (MiB)',
            'RNN-T memory / BAT memory',
          ],
          lossOnly.map((r: any) => [
            r.batch,
            r.seconds,
            f(r.rnnt_loss_only.step_ms),
            f(r.bat_loss_only.step_ms),
            `${f(r.rnnt_loss_only.step_ms / r.bat_loss_only.step_ms, 2)}×`,
            f(r.rnnt_loss_only.peak_mib, 0),
            f(r.bat_loss_only.peak_mib, 0),
            `${f(r.rnnt_loss_only.peak_mib / r.bat_loss_only.peak_mib, 1)}×`,
          ]),
        )}`,
      );
    }
  }
  for (const ev of t.evals) {
    const rows = [];
    for (const [model, sets] of Object.entries(ev.models) as [string, any][]) {
      for (const [set, s] of Object.entries(sets) as [string, any][])
        rows.push([model, set, pct(s.wer), ms(s.mean_last_emission_s), ms(s.last_minus_end_p50_s), ms(s.last_minus_end_p90_s)]);
    }
    parts.push(
      `Emission latency and WER (\`${ev.file}\`; last token's emission minus end of speech, over each model's correctly decoded utterances):\n\n${table(['model', 'set', 'WER', 'mean last emission (ms)', 'last - end p50 (ms)', 'last - end p90 (ms)'], rows)}`,
    );
    if (ev.paired) {
      const prow = [];
      for (const [set, p] of Object.entries(ev.paired) as [string, any][]) {
        for (const [model, v] of Object.entries(p).filter(([k]) => k !== 'utterances') as [string, any][]) {
          prow.push([
            set,
            p.utterances,
            model,
            ms(v.mean_last_emission_s),
            ms(v.last_minus_end_mean_s),
            ms(v.last_minus_end_p50_s),
            ms(v.last_minus_end_p90_s),
          ]);
        }
      }
      parts.push(
        `The same models timed on the same speech: the utterances that every model decodes exactly:\n\n${table(['set', 'utterances', 'model', 'mean last emission (ms)', 'last - end mean (ms)', 'p50 (ms)', 'p90 (ms)'], prow)}`,
      );
    }
  }
  for (const png of t.pngs) parts.push(`![${path.basename(png)}](${path.relative(reportDir, path.join(repoRoot, png))})`);
  return parts.join('\n\n');
}

function engineSection(): string {
  const e = readResult('engine');
  const k = readResult('kernels');
  if (!e && !k) return '';
  const parts = ['## 5. Engine and kernels (`npm run bench:engine`, `npm run bench:kernels`, by their owners; figures as they print them)'];
  if (e) {
    const scalarish = (o: any) =>
      o && typeof o === 'object'
        ? Object.entries(o)
            .filter(([, v]) => typeof v !== 'object')
            .map(([a, v]) => `${a} ${typeof v === 'number' ? +v.toFixed(4) : v}`)
            .join(', ')
        : '–';
    parts.push(
      table(
        ['measure', 'value'],
        [
          ['model, files, audio', `\`${e.model}\`, ${e.files} files, ${f(e.audio_s, 1)} s (kernel ${e.kernel})`],
          ['RTF greedy (CPU, wall)', `${f(e.rtf, 4)}, ${f(e.rtf_wall, 4)}`],
          ['RTF beam 4 (× greedy)', `${f(e.beam4_rtf, 4)} (${f(e.beam4_over_greedy, 2)}×)`],
          ['scalar kernels (× SIMD)', e.scalar_rtf != null ? `${f(e.scalar_rtf, 4)} (${f(e.scalar_over_simd, 2)}×)` : '–'],
          ['F32 export (× int4)', e.baseline ? `${f(e.baseline.rtf, 4)} (${f(e.baseline_over_model_rtf, 2)}×)` : '–'],
          ['peak RSS / model RSS', `${f(e.peak_rss_mib)} / ${f(e.model_rss_mib)} MiB`],
          [
            'event loop delay max; synchronous addon calls p99 / max',
            `${f(e.event_loop_max_ms, 2)} ms; ${f(e.sync_call_p99_ms, 3)} / ${f(e.sync_call_max_ms, 3)} ms`,
          ],
          ['pVAD', scalarish(e.pvad)],
          ['speaker encoder', scalarish(e.spkenc)],
        ],
      ),
    );
  }
  if (k) {
    parts.push(
      `Kernels (\`${k.kernel}\`, ${k.threads} thread): memory copy ${f(k.copy_GBps, 1)} GB/s; Q4_0 over F32 at 4096 columns ${f(k.q4_vs_f32_4096, 2)}×; Q4_0 large products at ${pct(k.q4_fraction_of_copy_large)} of copy speed.`,
    );
    if (Array.isArray(k.encoder_pass)) {
      parts.push(
        table(
          ['whole encoder pass, frames per call', 'F32 GFLOP/s', 'Q8_0 GFLOP/s', 'Q4_0 GFLOP/s', 'Q4_0 vs F32', 'Q4_0 vs Q8_0'],
          k.encoder_pass.map((r: any) => [
            r.n,
            f(r.gflops?.f32, 1),
            f(r.gflops?.q8_0, 1),
            f(r.gflops?.q4_0, 1),
            `${f(r.q4_vs_f32, 2)}×`,
            `${f(r.q4_vs_q8, 2)}×`,
          ]),
        ),
      );
    }
  }
  return parts.join('\n\n');
}

function targetsSection(): string {
  const r = readResult('recognizer');
  const ps = readResult('pocketsphinx');
  const e = readResult('e2e');
  const rows = [];
  const by = (n: string) => r?.table.find((t: any) => t.name === n);
  const int4 = by('earshot-int4');
  const int8 = by('onnx-int8');
  const same = readResult('engine')?.encoder_vs_onnx;
  if (same) {
    rows.push([
      'Earshot engine faster than onnxruntime int8 on the same encoder: the two alternating clip by clip in one process (`bench:engine`)',
      `${f(same.earshot_ms_per_audio_s, 2)} vs ${f(same.onnx_ms_per_audio_s, 2)} ms per audio s (onnxruntime takes ${f(same.onnx_over_earshot, 2)}× Earshot's time)`,
      same.onnx_over_earshot > 1 ? 'yes' : '**no**',
    ]);
  }
  rows.push([
    'Earshot engine faster than onnxruntime int8 on the same encoder (streaming, one thread; recognizer step)',
    int4 && int8
      ? `${f(int4.encoder_ms_per_audio_s, 2)} vs ${f(int8.encoder_ms_per_audio_s, 2)} ms per audio s (Earshot takes ${f(int4.encoder_ms_per_audio_s / int8.encoder_ms_per_audio_s, 2)}× onnxruntime's time; whole-utterance onnxruntime int8: ${f(by('onnx-int8-whole')?.encoder_ms_per_audio_s, 2)})`
      : 'int8 not measured',
    int4 && int8 ? (int4.encoder_ms_per_audio_s < int8.encoder_ms_per_audio_s ? 'yes' : '**no**') : '–',
  ]);
  rows.push([
    'end-of-segment p90 under 500 ms',
    e ? `p90 ${f(e.realtime.latency_p90_ms, 0)} ms (p50 ${f(e.realtime.latency_p50_ms, 0)})` : 'not measured',
    e ? (e.realtime.latency_p90_ms < 500 ? 'yes' : '**no**') : '–',
  ]);
  if (int4 && ps) {
    const both = ['fsdd', 'synth'].map((s) => [int4.wer[s]?.wer, ps.wer[s]?.wer]);
    rows.push([
      "WER well below pocketsphinx's",
      `FSDD ${pct(both[0][0])} vs ${pct(both[0][1])}; held-out voices ${pct(both[1][0])} vs ${pct(both[1][1])}`,
      both.every(([a, b]) => a < b / 2) ? 'yes' : '**no**',
    ]);
  }
  if (e)
    rows.push([
      'RSS does not grow over at least 10 min of audio',
      `${f(e.memory.slope_mib_per_audio_min_second_half, 4)} MiB/min over the second half of ${f(e.memory.audio_s / 60, 1)} min${e.memory.rss_after_warmup_mib === undefined ? '' : ` (${f(e.memory.rss_after_warmup_mib)} MiB after warm-up, ${f(e.memory.rss_end_mib)} at the end)`}`,
      e.memory.grows ? '**no**' : 'yes',
    ]);
  return `## Targets (issue 7)\n\n${table(['target', 'measured', 'met'], rows)}`;
}

export function renderResults(info: RunInfo): string {
  const m = info.machine;
  const failed = info.steps.filter((s) => !s.ok);
  return [
    '# Earshot benchmarks',
    '',
    info.steps.some((s) => s.reused)
      ? `Written by \`npm run bench -- --only ...\` on ${info.date} at commit \`${info.commit}\`: only some steps were rerun (${f(info.total_s / 60, 1)} minutes); the others keep their last results (see "Steps of this run" at the end).`
      : `Written by \`npm run bench\` on ${info.date} at commit \`${info.commit}\`, in ${f(info.total_s / 60, 1)} minutes.`,
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB, ${m.os} (Linux ${m.kernel}), Node ${m.node}. Other work shared the machine during the run, so times carry some noise; ratios within one run are steadier than absolute figures.`,
    '',
    HOW_TO,
    '',
    targetsSection(),
    '',
    recognizerSection(),
    '',
    devSection(),
    '',
    pvadSection(),
    '',
    e2eSection(),
    '',
    sentencesSection(),
    '',
    wyomingSection(),
    '',
    sentenceEndSection(),
    '',
    trainingSection(),
    '',
    engineSection(),
    '',
    '## Steps of this run',
    '',
    table(
      ['step', 'seconds', 'result'],
      info.steps.map((s) => [
        s.name,
        s.reused ? '–' : f(s.seconds, 0),
        s.reused
          ? `not rerun: results of ${s.reused}`
          : s.ok
            ? 'ok'
            : `**failed**: ${(s.error ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 300)}`,
      ]),
    ),
    failed.length ? `\n${failed.length} step(s) failed; their sections show the last results or say they are missing.` : '',
    '',
  ].join('\n');
}

export function writeResults(info: RunInfo): string {
  const file = path.join(reportDir, 'RESULTS.md');
  fs.writeFileSync(file, renderResults(info));
  return file;
}
