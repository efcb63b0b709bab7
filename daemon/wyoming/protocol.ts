// Wyoming framing (OHF-Voice/wyoming, README "Format"): a UTF-8 JSON header line ending in \n with
// `type`, optional `data`, `data_length`, `payload_length`; then exactly data_length bytes of JSON
// merged over the header's `data`; then exactly payload_length bytes of payload (PCM audio).
// The parser is incremental (bytes arrive in any pieces) and bounded: nothing a client sends makes
// it hold more than the configured limits.

export interface WyomingEvent {
  type: string;
  data: Record<string, unknown>;
  payload?: Buffer;
}

export interface FrameLimits {
  /** longest header line, newline excluded */
  headerBytes: number;
  dataBytes: number;
  payloadBytes: number;
}

/** A client broke the protocol or a limit: its connection is closed with this reason. */
export class ProtocolError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function lengthField(header: Record<string, unknown>, key: 'data_length' | 'payload_length', limit: number): number {
  const v = header[key];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new ProtocolError(`${key} must be a non-negative integer, got ${JSON.stringify(v).slice(0, 40)}`, 'bad-header');
  if (v > limit) throw new ProtocolError(`${key} ${v} exceeds the limit of ${limit} bytes`, 'too-large');
  return v;
}

/** Bytes in, whole events out. Throws ProtocolError on malformed or oversized input. */
export class EventParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** the event whose data/payload blocks are still being read */
  private pending: { type: string; data: Record<string, unknown>; dataLength: number; payloadLength: number } | undefined;
  private failed = false;

  constructor(private readonly limits: FrameLimits) {}

  /** bytes held, waiting for the rest of an event */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(bytes: Buffer): WyomingEvent[] {
    if (this.failed) return [];
    this.chunks.push(bytes);
    this.buffered += bytes.length;
    const out: WyomingEvent[] = [];
    try {
      for (;;) {
        const ev = this.next();
        if (!ev) break;
        out.push(ev);
      }
    } catch (err) {
      this.failed = true;
      this.chunks = [];
      this.buffered = 0;
      throw err;
    }
    return out;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const head = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return head;
  }

  private next(): WyomingEvent | undefined {
    if (!this.pending) {
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
      this.chunks = all.length ? [all] : [];
      const nl = all.indexOf(10);
      if (nl < 0) {
        if (all.length > this.limits.headerBytes)
          throw new ProtocolError(`header line longer than ${this.limits.headerBytes} bytes`, 'too-large');
        return undefined;
      }
      if (nl > this.limits.headerBytes)
        throw new ProtocolError(`header line of ${nl} bytes exceeds the limit of ${this.limits.headerBytes}`, 'too-large');
      const line = this.take(nl + 1)
        .subarray(0, nl)
        .toString('utf8')
        .trim();
      if (!line) return this.next(); // a blank line between events carries nothing
      let header: unknown;
      try {
        header = JSON.parse(line);
      } catch (err) {
        throw new ProtocolError(`header is not JSON: ${(err as Error).message}`, 'bad-header');
      }
      if (!isObject(header)) throw new ProtocolError('header is not a JSON object', 'bad-header');
      if (typeof header.type !== 'string' || !header.type) throw new ProtocolError('header has no "type" string', 'bad-header');
      if (header.data !== undefined && header.data !== null && !isObject(header.data))
        throw new ProtocolError('header "data" is not a JSON object', 'bad-header');
      this.pending = {
        type: header.type,
        data: isObject(header.data) ? header.data : {},
        dataLength: lengthField(header, 'data_length', this.limits.dataBytes),
        payloadLength: lengthField(header, 'payload_length', this.limits.payloadBytes),
      };
    }
    const p = this.pending;
    if (this.buffered < p.dataLength + p.payloadLength) return undefined;
    this.pending = undefined;
    let data = p.data;
    if (p.dataLength > 0) {
      let extra: unknown;
      try {
        extra = JSON.parse(this.take(p.dataLength).toString('utf8'));
      } catch (err) {
        throw new ProtocolError(`data block of "${p.type}" is not JSON: ${(err as Error).message}`, 'bad-data');
      }
      if (!isObject(extra)) throw new ProtocolError(`data block of "${p.type}" is not a JSON object`, 'bad-data');
      data = { ...data, ...extra };
    }
    const ev: WyomingEvent = { type: p.type, data };
    if (p.payloadLength > 0) ev.payload = Buffer.from(this.take(p.payloadLength)); // its own memory, not a view of a big read
    return ev;
  }
}

/** One event on the wire. Data goes in a data_length block, as the reference implementation writes it. */
export function encodeEvent(type: string, data?: Record<string, unknown>, payload?: Buffer): Buffer {
  const header: Record<string, unknown> = { type };
  const parts: Buffer[] = [];
  let dataBytes: Buffer | undefined;
  if (data && Object.keys(data).length) {
    dataBytes = Buffer.from(JSON.stringify(data), 'utf8');
    header.data_length = dataBytes.length;
  }
  if (payload?.length) header.payload_length = payload.length;
  parts.push(Buffer.from(JSON.stringify(header) + '\n', 'utf8'));
  if (dataBytes) parts.push(dataBytes);
  if (payload?.length) parts.push(payload);
  return Buffer.concat(parts);
}
