// Inbound MQTT payloads are untrusted: anyone allowed to publish on the broker can send any bytes.
// Every parser here returns a reason instead of throwing, so a bad message is logged and dropped.

/** Larger inbound payloads are dropped unread (commands are a few hundred bytes). */
export const MAX_INBOUND_BYTES = 16 * 1024;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** A JSON object payload; an empty payload is an empty object. */
export function jsonObject(payload: Buffer): Parsed<Record<string, unknown>> {
  if (payload.length === 0) return { ok: true, value: {} };
  if (payload.length > MAX_INBOUND_BYTES)
    return { ok: false, error: `payload of ${payload.length} bytes is over the ${MAX_INBOUND_BYTES}-byte limit` };
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, error: 'payload is not JSON' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return {
      ok: false,
      error: `payload must be a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
    };
  return { ok: true, value: value as Record<string, unknown> };
}

/** The Home Assistant switch convention for cmd/mute: ON mutes, OFF unmutes; empty mutes. */
export function switchPayload(payload: Buffer): Parsed<boolean> {
  const text = payload.length <= 16 ? payload.toString('utf8').trim().toLowerCase() : null;
  if (text === '' || text === 'on' || text === 'true' || text === '1') return { ok: true, value: true };
  if (text === 'off' || text === 'false' || text === '0') return { ok: true, value: false };
  return { ok: false, error: 'payload must be empty, ON/OFF, true/false or 1/0' };
}

/** A short printable excerpt of a payload for logs (never the whole of a huge one). */
export function excerpt(payload: Buffer, max = 120): string {
  const text = payload
    .subarray(0, max * 4)
    .toString('utf8')
    .replace(/[^\x20-\x7e]/g, '?');
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
