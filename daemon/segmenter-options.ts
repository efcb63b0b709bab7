// The one way from the configuration to the segmenter's options: the daemon, `earshot transcribe`,
// `earshot vad` and the bench build them here, from the keys' types and defaults in daemon/config.ts.
import type { Config } from './config.js';
import { msToFrames } from './frames.js';
import type { SegmenterOptions } from './segmenter.js';

/** What the caller runs the segmenter with. */
export interface SegmenterUse {
  /** enrolled profiles the pVAD scores against; none: every voice counts (mode 'any') */
  profiles: number;
  /** a speaker encoder answers the speaker checks (segmenter.speaker_check needs it and a profile) */
  speakerEncoder: boolean;
  /** the recognizer's end-of-utterance head answers pauses (segmenter.end_of_utterance on, a model with the head) */
  endOfUtterance?: boolean;
}

/** How often the end-of-utterance head is asked again in one pause while it is undecided. */
const EOU_REASK_MS = 50;

export function segmenterOptions(cfg: Pick<Config, 'vad' | 'segmenter'>, use: SegmenterUse): SegmenterOptions {
  const { vad, segmenter: seg } = cfg;
  const atLeastOneFrame = (ms: number) => Math.max(1, msToFrames(ms));
  const checks = seg.speaker_check && use.profiles > 0 && use.speakerEncoder;
  return {
    mode: use.profiles > 0 ? vad.mode : 'any',
    threshold: vad.threshold,
    closeThreshold: Math.min(vad.close_threshold, vad.threshold),
    preRollFrames: msToFrames(seg.pre_roll_ms),
    trailingFrames: atLeastOneFrame(seg.trailing_ms),
    maxFrames: atLeastOneFrame(seg.max_segment_ms),
    minSpeechFrames: atLeastOneFrame(seg.min_speech_ms),
    listenTimeoutFrames: atLeastOneFrame(seg.listen_timeout_ms),
    pauseFrames: atLeastOneFrame(seg.pause_ms),
    holdOtherFrames: msToFrames(seg.hold_other_ms),
    holdMinTargetFrames: msToFrames(seg.hold_min_target_ms),
    switchFrames: msToFrames(seg.switch_ms),
    sentenceGuardFrames: msToFrames(seg.sentence_guard_ms),
    incompleteTrailingFrames: msToFrames(seg.sentence_incomplete_ms),
    reaskFrames: use.endOfUtterance ? msToFrames(EOU_REASK_MS) : 0,
    check: checks
      ? {
          threshold: seg.speaker_check_threshold,
          windowFrames: atLeastOneFrame(seg.speaker_check_ms),
          minFrames: atLeastOneFrame(seg.speaker_check_min_ms),
          onSwitch: seg.speaker_check_switch,
          recheckFloor: seg.speaker_check_recheck_above,
          recheckFrames: msToFrames(seg.speaker_check_recheck_ms),
        }
      : null,
  };
}
