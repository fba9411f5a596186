// fanout-100: the load of `hookline bench --scenario fanout-100`, for k6.
//
// 100 endpoints (ENDPOINTS) all subscribed to one event type, created in
// setup() and pointing at RECEIVER_URL/r/0 … /r/99; then events posted one by
// one (POST /v1/events) at RATE per second for DURATION with k6's
// constant-arrival-rate executor, so every event is 100 deliveries.
// Run receivers first: `hookline bench receive --addr 127.0.0.1:9100`.
// See loadtest/README.md.
//
// Environment:
//   HOOKLINE_URL      base URL of Hookline             (default http://127.0.0.1:8080)
//   HOOKLINE_API_KEY  API key                          (required)
//   RECEIVER_URL      base URL of the receivers        (default http://127.0.0.1:9100)
//   RATE              events per second                (default 1000)
//   DURATION          how long                         (default 30s)
//   ENDPOINTS         endpoints per event              (default 100)
//   PAYLOAD_SIZE      bytes of event data, about       (default 256)
//   VUS, MAX_VUS      pre-allocated and maximum VUs    (default 64, 512)
//   CLEANUP           1 deletes the endpoints in teardown (after the load; late
//                     deliveries to them are then dropped)
import http from 'k6/http';
import { check } from 'k6';

const BASE = __ENV.HOOKLINE_URL || 'http://127.0.0.1:8080';
const KEY = __ENV.HOOKLINE_API_KEY || '';
const RECEIVER = __ENV.RECEIVER_URL || 'http://127.0.0.1:9100';
const RATE = parseInt(__ENV.RATE || '1000', 10);
const DURATION = __ENV.DURATION || '30s';
const ENDPOINTS = parseInt(__ENV.ENDPOINTS || '100', 10);
const PAYLOAD_SIZE = parseInt(__ENV.PAYLOAD_SIZE || '256', 10);

export const options = {
  scenarios: {
    fanout: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: parseInt(__ENV.VUS || '64', 10),
      maxVUs: parseInt(__ENV.MAX_VUS || '512', 10),
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    // Listed so the summary shows the events' own latency, apart from setup().
    'http_req_duration{name:POST /v1/events}': ['p(99)<10000'],
  },
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
};

const headers = { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' };

export function setup() {
  if (!KEY) {
    throw new Error('set HOOKLINE_API_KEY');
  }
  // A type of its own, so endpoints of earlier runs do not match.
  const type = `loadtest.fanout.${Date.now()}`;
  const ids = [];
  for (let i = 0; i < ENDPOINTS; i++) {
    const res = http.post(
      `${BASE}/v1/endpoints`,
      JSON.stringify({ url: `${RECEIVER}/r/${i}`, event_types: [type], description: 'k6 fanout-100' }),
      { headers },
    );
    if (res.status !== 201) {
      throw new Error(`create endpoint: ${res.status} ${res.body}`);
    }
    ids.push(res.json('id'));
  }
  return { type, ids };
}

const pad = 'x'.repeat(Math.max(PAYLOAD_SIZE - 70, 0));

export default function (data) {
  // sent_ns lets `hookline bench receive` print end-to-end latency. k6 does
  // not expose an iteration's scheduled time, so this is when it started.
  const body = JSON.stringify({
    type: data.type,
    data: { sent_ns: Date.now() * 1e6, vu: __VU, iter: __ITER, pad },
  });
  const res = http.post(`${BASE}/v1/events`, body, { headers, tags: { name: 'POST /v1/events' } });
  check(res, {
    'status is 202': (r) => r.status === 202,
    'fanned out to every endpoint': (r) => r.status === 202 && r.json('deliveries') === ENDPOINTS,
  });
}

export function teardown(data) {
  if (__ENV.CLEANUP !== '1') {
    return;
  }
  for (const id of data.ids) {
    http.del(`${BASE}/v1/endpoints/${id}`, null, { headers });
  }
}
