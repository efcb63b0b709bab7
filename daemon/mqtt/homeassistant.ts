// Home Assistant MQTT discovery: one device per site with a transcript sensor, a speech event,
// a "speaking" binary sensor and a mute switch, all tied to the retained availability topic.
import type { Topics } from './topics.js';

export interface DiscoveryMessage {
  topic: string;
  payload: Record<string, unknown>;
}

export function discoveryMessages(opts: { discoveryPrefix: string; topics: Topics; deviceName: string; version: string; model: string }): DiscoveryMessage[] {
  const { topics } = opts;
  const node = `earshot_${topics.site}`;
  const device = {
    identifiers: [node],
    name: opts.deviceName,
    manufacturer: 'Earshot',
    model: 'Earshot voice front-end',
    sw_version: opts.version,
  };
  const availability = { availability_topic: topics.status, payload_available: 'online', payload_not_available: 'offline' };
  const entity = (component: string, id: string, body: Record<string, unknown>): DiscoveryMessage => ({
    topic: `${opts.discoveryPrefix}/${component}/${node}/${id}/config`,
    payload: { unique_id: `${node}_${id}`, object_id: `${node}_${id}`, device, ...availability, ...body },
  });
  return [
    entity('sensor', 'transcript', {
      name: 'Transcript',
      icon: 'mdi:text-to-speech',
      state_topic: topics.transcript,
      // HA states are limited to 255 characters; the whole message is in the attributes
      value_template: '{{ value_json.text[:255] }}',
      json_attributes_topic: topics.transcript,
    }),
    entity('event', 'speech', {
      name: 'Speech',
      icon: 'mdi:account-voice',
      state_topic: topics.transcript,
      event_types: ['transcript'],
    }),
    entity('binary_sensor', 'speaking', {
      name: 'Speaking',
      device_class: 'sound',
      state_topic: topics.vad,
      value_template: "{{ 'ON' if value_json.speaking else 'OFF' }}",
    }),
    entity('switch', 'mute', {
      name: 'Mute',
      icon: 'mdi:microphone-off',
      command_topic: topics.cmd('mute'),
      state_topic: topics.muted,
      payload_on: 'ON',
      payload_off: 'OFF',
    }),
  ];
}
