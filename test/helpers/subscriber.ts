// A test MQTT subscriber that records every message (and waits for conditions on them).
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export interface Received {
  topic: string;
  text: string;
  retain: boolean;
  at: number;
  properties?: Record<string, unknown>;
}

export class Subscriber {
  readonly messages: Received[] = [];
  private waiters: (() => void)[] = [];
  client!: MqttClient;

  static async connect(url: string, topics: string[], opts: IClientOptions = {}): Promise<Subscriber> {
    const s = new Subscriber();
    s.client = mqtt.connect(url, { reconnectPeriod: 50, clientId: `test-sub-${Math.random().toString(16).slice(2)}`, ...opts });
    s.client.on('message', (topic, payload, packet) => {
      s.messages.push({
        topic,
        text: payload.toString(),
        retain: packet.retain,
        at: Date.now(),
        properties: packet.properties as Record<string, unknown> | undefined,
      });
      for (const w of s.waiters) w();
    });
    await new Promise<void>((resolve, reject) => {
      setTimeout(() => reject(new Error(`test subscriber could not connect to ${url}`)), 15000).unref();
      s.client.once('connect', () => s.client.subscribe(topics, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
      s.client.once('error', reject);
    });
    return s;
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  json<T = any>(topic: string): T[] {
    return this.on(topic).map((m) => JSON.parse(m.text) as T);
  }

  /** Resolves once pred() is true, re-checked on each message; rejects after timeoutMs. */
  until(pred: () => boolean, timeoutMs = 20000, what = 'condition'): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const check = () => {
        if (pred()) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve();
        }
      };
      this.waiters.push(check);
    });
  }

  close(): Promise<void> {
    if (this.client.disconnecting || this.client.disconnected) return Promise.resolve();
    return this.client.endAsync(true);
  }
}
