// Drives the daemon's MQTT side (outbox + link) with transcripts built the way the daemon builds them.
import path from 'node:path';
import { validateConfig } from '../../daemon/config.js';
import { MqttLink } from '../../daemon/mqtt/link.js';
import { Outbox } from '../../daemon/outbox.js';
import type { FinalSegment } from '../../daemon/pipeline.js';
import { buildTranscript, type Transcript } from '../../daemon/transcript.js';

export function transcriptFor(i: number, site = 'test'): Transcript {
  const seg: FinalSegment = {
    index: i,
    startFrame: 100 * i,
    speechStartFrame: 100 * i + 30,
    endFrame: 100 * i + 90,
    speechEndFrame: 100 * i + 50,
    forced: false,
    reason: 'silence',
    text: `turn on light ${i}`,
    tokens: [
      { text: '▁turn', start: i + 0.3, conf: 0.9 },
      { text: '▁on', start: i + 0.5, conf: 0.8 },
      { text: '▁light', start: i + 0.6, conf: 0.95 },
      { text: `▁${i}`, start: i + 0.7, conf: 0.7 },
    ],
    speaker: null,
    scores: [],
    closedAt: 0,
    finalAt: 12,
    model: 'test-model',
  };
  return buildTranscript(seg, site, (frame) => Date.parse('2026-01-01T00:00:00Z') + frame * 10);
}

export function makeLink(doc: Record<string, any>, stateDir: string, url: string): { link: MqttLink; outbox: Outbox } {
  const cfg = validateConfig({ site: 'test', ...doc, state_dir: stateDir });
  const outbox = new Outbox(path.join(cfg.state_dir, 'outbox'), cfg.outbox.max_entries);
  outbox.open();
  const link = new MqttLink({ cfg, url, outbox, version: '0.1.0', modelName: 'test-model' });
  return { link, outbox };
}
