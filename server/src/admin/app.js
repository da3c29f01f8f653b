// The Chorus admin dashboard, served by every node at /admin.
//
// Plain script: no build step, no libraries. Every few seconds it reads this
// node's /metrics (OpenMetrics text, parsed below: rates from counters,
// percentiles from histogram buckets) and the server API (/api/info,
// /api/nodes, /api/channels), and draws the charts on canvas by hand. The API
// key comes from the sign-in form or the URL fragment (#key=..., which the
// development profile logs), stays in this tab's sessionStorage, and is sent
// with every API call as `Authorization: apikey KEY`.
'use strict';

const KEY_STORAGE = 'chorus-admin-key';
const INTERVAL_STORAGE = 'chorus-admin-interval';
const WINDOW_MS = 5 * 60 * 1000; // time shown by the charts
const MAX_ROWS = 200; // rows shown by the channel and presence tables
const COLORS = ['#2864c8', '#e07b00', '#1e8a4a', '#c0392b', '#7b4bc4', '#0f8b8d', '#b5478f', '#6b7d91'];

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------
// OpenMetrics text
// ---------------------------------------------------------------------------

function parseNumber(text) {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

function unescapeLabel(text) {
  return text.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
}

/** Parses the exposition into a Map from sample name to [{labels, value}]. */
function parseMetrics(text) {
  const samples = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[2]) {
      for (const l of m[2].matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[l[1]] = unescapeLabel(l[2]);
      }
    }
    if (!samples.has(m[1])) samples.set(m[1], []);
    samples.get(m[1]).push({ labels, value: parseNumber(m[3]) });
  }
  return samples;
}

/** The value of an unlabelled sample, or undefined. */
function scalar(metrics, name) {
  const list = metrics.get(name);
  return list && list.length ? list[0].value : undefined;
}

/** {labelValue: value} of a labelled family. */
function byLabel(metrics, name, label) {
  const out = {};
  for (const s of metrics.get(name) || []) out[s.labels[label] ?? ''] = s.value;
  return out;
}

/** Cumulative buckets [{le, count}] of a histogram, sorted by bound. */
function buckets(metrics, name) {
  return (metrics.get(name + '_bucket') || [])
    .map((s) => ({ le: parseNumber(s.labels.le), count: s.value }))
    .sort((a, b) => a.le - b.le);
}

/** The q-quantile of cumulative buckets, interpolated linearly within a
 *  bucket as Prometheus' histogram_quantile does; null without observations. */
function quantile(q, cumulative) {
  if (!cumulative.length) return null;
  const total = cumulative[cumulative.length - 1].count;
  if (!(total > 0)) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const b of cumulative) {
    if (b.count >= rank) {
      if (b.le === Infinity) return lower; // beyond the last finite bound
      const inside = b.count - below;
      return lower + (b.le - lower) * (inside > 0 ? (rank - below) / inside : 0);
    }
    lower = b.le;
    below = b.count;
  }
  return lower;
}

/** What happened between two scrapes: gauges now, counter rates, and the
 *  latency percentiles of the publications written in between. */
function summarize(prev, cur) {
  const m = cur.metrics;
  const dt = prev ? (cur.t - prev.t) / 1000 : 0;
  const delta = (a, b) => (b >= a ? b - a : b); // a counter restarts at 0
  const rate = (name) => {
    if (!prev || dt <= 0) return null;
    const a = scalar(prev.metrics, name);
    const b = scalar(m, name);
    return a === undefined || b === undefined ? null : delta(a, b) / dt;
  };
  const sample = {
    t: cur.t,
    connections: scalar(m, 'chorus_connections') ?? null,
    users: scalar(m, 'chorus_users') ?? null,
    subscriptions: scalar(m, 'chorus_subscriptions') ?? null,
    channels: scalar(m, 'chorus_channels') ?? null,
    inRate: rate('chorus_messages_in_total'),
    outRate: rate('chorus_messages_out_total'),
    slowRate: rate('chorus_slow_consumer_disconnects_total'),
    slowTotal: scalar(m, 'chorus_slow_consumer_disconnects_total') ?? null,
    errorRates: {},
    errorRate: null,
    p50: null,
    p90: null,
    p99: null,
  };
  if (prev && dt > 0) {
    // Labelled counters appear at their first event: absent before means 0.
    const before = byLabel(prev.metrics, 'chorus_errors_total', 'code');
    const now = byLabel(m, 'chorus_errors_total', 'code');
    let sum = 0;
    for (const [code, value] of Object.entries(now)) {
      const r = delta(before[code] ?? 0, value) / dt;
      sample.errorRates[code] = r;
      sum += r;
    }
    sample.errorRate = sum;
    const old = new Map(buckets(prev.metrics, 'chorus_publish_to_write_seconds').map((b) => [b.le, b.count]));
    const recent = buckets(m, 'chorus_publish_to_write_seconds').map((b) => ({
      le: b.le,
      count: delta(old.get(b.le) ?? 0, b.count),
    }));
    for (const [field, q] of [['p50', 0.5], ['p90', 0.9], ['p99', 0.99]]) {
      const seconds = quantile(q, recent);
      sample[field] = seconds === null ? null : seconds * 1000;
    }
  }
  return sample;
}

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

function formatCount(v) {
  return v === null || v === undefined ? '–' : Math.round(v).toLocaleString('en-US');
}

function formatRate(v) {
  if (v === null || v === undefined) return '–';
  if (v === 0) return '0';
  if (v < 10) return v.toFixed(1);
  return Math.round(v).toLocaleString('en-US');
}

function formatMs(v) {
  if (v === null || v === undefined) return '–';
  if (v < 1) return v.toFixed(3) + ' ms';
  if (v < 10) return v.toFixed(2) + ' ms';
  if (v < 100) return v.toFixed(1) + ' ms';
  return Math.round(v).toLocaleString('en-US') + ' ms';
}

function formatDuration(ms) {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s % 60}s`;
}

function clip(text, max) {
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}

// ---------------------------------------------------------------------------
// Charts: line charts on a canvas, drawn by hand
// ---------------------------------------------------------------------------

/** A step that gives about four grid lines up to `max`, and the top line. */
function niceScale(max, integer) {
  if (!(max > 0)) return integer ? { top: 1, step: 1 } : { top: 1, step: 0.25 };
  const raw = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const n = raw / magnitude;
  let step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * magnitude;
  if (integer) step = Math.max(1, Math.round(step));
  return { top: Math.ceil(max / step - 1e-9) * step, step };
}

/** An axis label: as many decimals as the grid step needs. */
function axisLabel(v, step) {
  const exponent = Math.floor(Math.log10(step) + 1e-9);
  const mantissa = step / 10 ** exponent;
  const whole = Math.abs(mantissa - Math.round(mantissa)) < 1e-6;
  const decimals = Math.max(0, Math.min(6, -exponent + (whole ? 0 : 1)));
  return v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** Time-axis labels: a step that gives at most six of them over `span`. */
function timeStep(span) {
  for (const step of [10000, 15000, 20000, 30000, 60000, 120000]) if (span / step <= 6) return step;
  return 300000;
}

function timeLabel(ago) {
  const s = Math.round(ago / 1000);
  if (s === 0) return 'now';
  if (s < 60) return `-${s}s`;
  return s % 60 ? `-${Math.floor(s / 60)}m${s % 60}s` : `-${s / 60}m`;
}

class Chart {
  /** `format` writes a value; `integer` keeps the axis on whole numbers. */
  constructor(canvas, legend, format, integer = false) {
    this.canvas = canvas;
    this.legend = legend;
    this.format = format;
    this.integer = integer;
  }

  /** Draws `series` ([{name, color, points: [[t, v|null]]}]) over the `span`
   *  milliseconds before `now`; the legend shows each series' latest value. */
  draw(now, span, series) {
    const canvas = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (!w || !h) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const pad = { left: 52, right: 10, top: 8, bottom: 20 };
    const plotW = w - pad.left - pad.right;
    const plotH = h - pad.top - pad.bottom;
    const start = now - span;
    const x = (t) => pad.left + ((t - start) / span) * plotW;

    let max = 0;
    for (const s of series) for (const [, v] of s.points) if (v !== null && v > max) max = v;
    const { top, step } = niceScale(max, this.integer);
    const y = (v) => pad.top + plotH - (v / top) * plotH;

    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    ctx.strokeStyle = '#e6e9ed';
    ctx.fillStyle = '#66707c';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let v = 0; v <= top + step / 2; v += step) {
      const yy = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.left, yy);
      ctx.lineTo(w - pad.right, yy);
      ctx.stroke();
      ctx.fillText(axisLabel(v, step), pad.left - 6, yy);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const tStep = timeStep(span);
    for (let ago = Math.floor(span / tStep) * tStep; ago >= 0; ago -= tStep) {
      const xx = x(now - ago);
      ctx.fillText(timeLabel(ago), Math.min(Math.max(xx, pad.left + 10), w - pad.right - 12), h - pad.bottom + 5);
    }

    let drawn = false;
    ctx.lineWidth = 1.8;
    ctx.lineJoin = 'round';
    for (const s of series) {
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.beginPath();
      let pen = false;
      const dots = []; // points without a neighbour: no line shows them
      for (let i = 0; i < s.points.length; i++) {
        const [t, v] = s.points[i];
        if (v === null || t < start) {
          pen = false;
          continue;
        }
        const px = x(t);
        const py = y(v);
        if (pen) ctx.lineTo(px, py);
        else ctx.moveTo(px, py);
        const next = s.points[i + 1];
        if (!pen && (!next || next[1] === null)) dots.push([px, py]);
        pen = true;
        drawn = true;
      }
      ctx.stroke();
      for (const [px, py] of dots) ctx.fillRect(px - 2, py - 2, 4, 4);
    }
    if (!drawn) {
      ctx.fillStyle = '#98a1ab';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.font = '12px system-ui, sans-serif';
      ctx.fillText('waiting for data', pad.left + plotW / 2, pad.top + plotH / 2);
    }

    const items = series.map((s) => {
      const li = document.createElement('li');
      li.dataset.series = s.name;
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = s.color;
      const last = s.points.length ? s.points[s.points.length - 1][1] : null;
      const value = document.createElement('b');
      value.textContent = this.format(last);
      li.append(swatch, document.createTextNode(s.name + ' '), value);
      return li;
    });
    this.legend.replaceChildren(...items);
  }
}

// ---------------------------------------------------------------------------
// The server API
// ---------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let apiKey = null;

/** Calls /api/PATH (relative to the page, so a proxy prefix is kept): GET
 *  without a body, POST with one (an object, or JSON text sent as is). */
async function api(path, body) {
  const init = { headers: { Authorization: 'apikey ' + apiKey }, cache: 'no-store' };
  if (body !== undefined) {
    init.method = 'POST';
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('api/' + path, init);
  } catch (e) {
    throw new ApiError(0, 'the node does not answer');
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (e) {
    json = null;
  }
  if (!res.ok) {
    const err = json && json.error;
    const message = err ? `${err.message} (error ${err.code})` : `HTTP ${res.status}${text.trim() ? ': ' + clip(text.trim(), 120) : ''}`;
    throw new ApiError(res.status, message);
  }
  return json;
}

async function scrape() {
  let res;
  try {
    res = await fetch('metrics', { cache: 'no-store' });
  } catch (e) {
    throw new Error('/metrics does not answer');
  }
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  const text = await res.text();
  return { t: Date.now(), metrics: parseMetrics(text) };
}

// ---------------------------------------------------------------------------
// The dashboard
// ---------------------------------------------------------------------------

const state = {
  generation: 0, // bumped at sign-out: late answers of an old session are dropped
  timer: null,
  interval: 2000,
  last: null, // the previous scrape
  samples: [],
  selfNode: null,
  channels: [],
  channelsShown: '',
  presenceChannel: null, // the channel of the presence view, refreshed with the rest
  presenceShown: '',
};

const charts = {};

function setTile(id, value, text) {
  const el = $(id);
  el.dataset.value = value === null || value === undefined ? '' : String(value);
  el.textContent = text;
}

function setLive(ok, message) {
  const badge = $('live');
  badge.className = 'badge ' + (ok ? 'live' : 'error');
  badge.textContent = ok ? 'live' : 'error';
  badge.title = message || '';
  $('status').textContent = ok ? `Updated ${new Date().toLocaleTimeString()}` : message;
}

function renderTiles(s) {
  setTile('stat-connections', s.connections, formatCount(s.connections));
  setTile('stat-users', s.users, formatCount(s.users));
  setTile('stat-subscriptions', s.subscriptions, formatCount(s.subscriptions));
  setTile('stat-channels', s.channels, formatCount(s.channels));
  setTile('stat-in-rate', s.inRate, formatRate(s.inRate));
  setTile('stat-out-rate', s.outRate, formatRate(s.outRate));
  setTile('stat-p50', s.p50, formatMs(s.p50));
  setTile('stat-p99', s.p99, formatMs(s.p99));
  setTile('stat-error-rate', s.errorRate, formatRate(s.errorRate));
  setTile('stat-slow', s.slowTotal, formatCount(s.slowTotal));
}

function renderCharts() {
  const samples = state.samples;
  const now = samples.length ? samples[samples.length - 1].t : Date.now();
  // From one minute up to WINDOW_MS, growing with the samples collected.
  const span = Math.min(WINDOW_MS, Math.max(60000, samples.length ? now - samples[0].t : 0));
  const line = (name, color, field) => ({ name, color, points: samples.map((s) => [s.t, s[field]]) });
  charts.connections.draw(now, span, [
    line('connections', COLORS[0], 'connections'),
    line('subscriptions', COLORS[1], 'subscriptions'),
  ]);
  charts.messages.draw(now, span, [line('in', COLORS[0], 'inRate'), line('out', COLORS[1], 'outRate')]);
  charts.latency.draw(now, span, [line('p50', COLORS[2], 'p50'), line('p90', COLORS[1], 'p90'), line('p99', COLORS[3], 'p99')]);
  const codes = new Set();
  for (const s of samples) for (const code of Object.keys(s.errorRates)) codes.add(code);
  const errorSeries = [...codes].sort().map((code, i) => ({
    name: code,
    color: COLORS[(i + 3) % COLORS.length],
    points: samples.map((s) => [s.t, s.errorRate === null ? null : s.errorRates[code] ?? 0]),
  }));
  errorSeries.push({ name: 'slow-consumer disconnects', color: COLORS[7], points: samples.map((s) => [s.t, s.slowRate]) });
  charts.errors.draw(now, span, errorSeries);
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function emptyRow(columns, text) {
  const tr = document.createElement('tr');
  tr.className = 'empty';
  const td = cell(text);
  td.colSpan = columns;
  tr.append(td);
  return tr;
}

function renderCodes(metrics) {
  const rows = [];
  for (const [kind, name] of [['error', 'chorus_errors_total'], ['disconnect', 'chorus_disconnects_total']]) {
    for (const [code, count] of Object.entries(byLabel(metrics, name, 'code'))) rows.push({ kind, code, count });
  }
  rows.sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
  const body = $('codes').tBodies[0];
  if (!rows.length) {
    body.replaceChildren(emptyRow(3, 'none yet'));
    return;
  }
  body.replaceChildren(
    ...rows.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.kind = r.kind;
      tr.dataset.code = r.code;
      tr.append(cell(r.kind), cell(r.code, 'mono'), cell(formatCount(r.count), 'num'));
      return tr;
    }),
  );
}

function renderInfo(info) {
  state.selfNode = info.node;
  $('info-node').textContent = info.node;
  $('info-version').textContent = info.version;
  $('info-broker').textContent = info.broker;
  $('info-uptime').textContent = formatDuration(info.uptime_ms);
  $('draining').hidden = !info.draining;
}

function renderNodes(nodes) {
  const body = $('nodes').tBodies[0];
  const sorted = [...nodes].sort((a, b) => a.node.localeCompare(b.node));
  body.replaceChildren(
    ...sorted.map((n) => {
      const tr = document.createElement('tr');
      tr.dataset.node = n.node;
      if (n.node === state.selfNode) tr.className = 'self';
      const stateText = n.draining ? 'draining' : 'ready';
      tr.append(
        cell(n.node, 'mono'),
        cell(n.version),
        cell(n.broker),
        cell(formatDuration(n.uptime_ms)),
        cell(formatCount(n.connections), 'num connections'),
        cell(formatCount(n.users), 'num users'),
        cell(formatCount(n.subscriptions), 'num subscriptions'),
        cell(formatCount(n.channels), 'num channels'),
        cell(stateText, 'state-' + stateText),
      );
      return tr;
    }),
  );
  const sum = (field) => nodes.reduce((acc, n) => acc + n[field], 0);
  const foot = document.createElement('tr');
  const label = cell(nodes.length === 1 ? '1 node' : `${nodes.length} nodes`);
  label.colSpan = 4;
  foot.append(
    label,
    cell(formatCount(sum('connections')), 'num'),
    cell('', 'num'), // users may be connected to several nodes: no sum
    cell(formatCount(sum('subscriptions')), 'num'),
    cell('', 'num'), // channels may have members on several nodes: no sum
    cell(''),
  );
  $('nodes').tFoot.replaceChildren(foot);
}

function renderChannels() {
  const filter = $('channel-filter').value.trim().toLowerCase();
  const matching = state.channels
    .filter((c) => !filter || c.channel.toLowerCase().includes(filter))
    .sort((a, b) => b.members - a.members || a.channel.localeCompare(b.channel));
  const shown = matching.slice(0, MAX_ROWS);
  const key = JSON.stringify([filter, shown]);
  if (key === state.channelsShown) return; // unchanged: keep the buttons under the pointer
  state.channelsShown = key;
  const body = $('channels').tBodies[0];
  if (!shown.length) {
    body.replaceChildren(emptyRow(3, filter ? 'no channel matches' : 'no channel has members on this node'));
  } else {
    body.replaceChildren(
      ...shown.map((c) => {
        const tr = document.createElement('tr');
        tr.dataset.channel = c.channel;
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'small ghost';
        button.textContent = 'presence';
        button.addEventListener('click', () => {
          $('presence-channel').value = c.channel;
          if (!$('publish-channel').value) $('publish-channel').value = c.channel;
          showPresence(c.channel);
        });
        const actions = cell('', 'num');
        actions.append(button);
        tr.append(cell(c.channel, 'mono'), cell(formatCount(c.members), 'num members'), actions);
        return tr;
      }),
    );
  }
  $('channels-more').textContent = matching.length > shown.length ? `and ${matching.length - shown.length} more; filter to find them` : '';
}

/** Shows the members of `channel` across the cluster; `refresh` is a periodic
 *  update of the same channel, which leaves the table alone when nothing changed. */
async function showPresence(channel, refresh = false) {
  const summary = $('presence-summary');
  const body = $('presence').tBodies[0];
  if (!refresh) {
    state.presenceChannel = channel;
    state.presenceShown = '';
    summary.className = 'hint';
    summary.textContent = `Loading ${channel}…`;
  }
  let presence;
  let stats;
  try {
    [presence, stats] = await Promise.all([api('presence', { channel }), api('presence_stats', { channel })]);
  } catch (e) {
    if (e.status === 401) return signOut('The API key was refused: sign in again.');
    if (state.presenceChannel !== channel) return;
    state.presenceChannel = null; // an error is not retried at every refresh
    state.presenceShown = '';
    summary.className = 'hint error';
    summary.textContent = `${channel}: ${e.message}`;
    body.replaceChildren();
    return;
  }
  if (state.presenceChannel !== channel) return; // another channel was asked for meanwhile
  summary.className = 'hint';
  summary.textContent = `${channel}: ${formatCount(stats.clients)} connections of ${formatCount(stats.users)} users, on every node.`;
  const clients = [...presence.clients].sort((a, b) => a.user.localeCompare(b.user) || a.client.localeCompare(b.client));
  const shown = JSON.stringify(clients.slice(0, MAX_ROWS));
  if (shown === state.presenceShown) return; // unchanged: keep the buttons under the pointer
  state.presenceShown = shown;
  if (!clients.length) {
    body.replaceChildren(emptyRow(4, 'nobody'));
    return;
  }
  const rows = clients.slice(0, MAX_ROWS).map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.client = c.client;
    tr.dataset.user = c.user;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'small danger';
    button.textContent = 'disconnect';
    button.addEventListener('click', () => disconnectClient(c));
    const actions = cell('', 'num');
    actions.append(button);
    const info = c.info === undefined ? '' : clip(JSON.stringify(c.info), 80);
    tr.append(cell(c.user || '(anonymous)'), cell(c.client, 'mono'), cell(info, 'mono'), actions);
    return tr;
  });
  if (clients.length > rows.length) rows.push(emptyRow(4, `and ${clients.length - rows.length} more`));
  body.replaceChildren(...rows);
}

async function disconnectClient(c) {
  const who = c.user ? `user "${c.user}"` : 'an anonymous user';
  if (!window.confirm(`Close connection ${c.client} of ${who}? It is told not to reconnect (close 4506).`)) return;
  try {
    await api('disconnect', { client: c.client, reason: $('disconnect-reason').value || 'disconnected from the admin dashboard' });
    $('presence-summary').textContent = `Closed ${c.client}; presence follows at the next refresh.`;
  } catch (e) {
    if (e.status === 401) return signOut('The API key was refused: sign in again.');
    $('presence-summary').textContent = `Could not close ${c.client}: ${e.message}`;
  }
}

function setOutput(id, ok, text) {
  const out = $(id);
  out.className = ok ? 'ok' : 'error';
  out.textContent = text;
}

async function publish(event) {
  event.preventDefault();
  const channel = $('publish-channel').value.trim();
  const data = $('publish-data').value.trim();
  try {
    JSON.parse(data);
  } catch (e) {
    return setOutput('publish-result', false, 'Data must be JSON: ' + e.message);
  }
  // The data text is sent as typed: subscribers receive exactly this JSON.
  const body = '{"channel":' + JSON.stringify(channel) + ',"data":' + data + '}';
  const button = $('publish-button');
  button.disabled = true;
  try {
    const r = await api('publish', body);
    const where = r && r.position ? ` at offset ${r.position.offset} (epoch ${r.position.epoch})` : '';
    setOutput('publish-result', true, `Published to ${channel}${where}.`);
  } catch (e) {
    if (e.status === 401) return signOut('The API key was refused: sign in again.');
    setOutput('publish-result', false, `Not published: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

async function disconnectUser(event) {
  event.preventDefault();
  const user = $('disconnect-user').value.trim();
  const reconnect = $('disconnect-reconnect').checked;
  const reason = $('disconnect-reason').value.trim() || 'disconnected from the admin dashboard';
  const code = reconnect ? '4005 force_reconnect' : '4506 kicked';
  if (!window.confirm(`Close every connection of user "${user}", on every node (close ${code})?`)) return;
  const button = $('disconnect-button');
  button.disabled = true;
  try {
    await api('disconnect', { user, reason, reconnect });
    setOutput('disconnect-result', true, `Every node was told to close the connections of "${user}" (close ${code}).`);
  } catch (e) {
    if (e.status === 401) return signOut('The API key was refused: sign in again.');
    setOutput('disconnect-result', false, `Not disconnected: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

/** One refresh: metrics, identity, nodes and channels, each on its own. */
async function refresh(generation) {
  const [metrics, info, nodes, channels] = await Promise.allSettled([scrape(), api('info'), api('nodes'), api('channels')]);
  if (generation !== state.generation) return;
  const failures = [metrics, info, nodes, channels].filter((r) => r.status === 'rejected').map((r) => r.reason);
  if (failures.some((e) => e.status === 401)) return signOut('The API key was refused: sign in again.');

  if (info.status === 'fulfilled') renderInfo(info.value);
  if (metrics.status === 'fulfilled') {
    const sample = summarize(state.last, metrics.value);
    state.last = metrics.value;
    state.samples.push(sample);
    const oldest = sample.t - WINDOW_MS;
    while (state.samples.length && state.samples[0].t < oldest) state.samples.shift();
    renderTiles(sample);
    renderCharts();
    renderCodes(metrics.value.metrics);
  }
  if (nodes.status === 'fulfilled') renderNodes(nodes.value.nodes);
  if (channels.status === 'fulfilled') {
    state.channels = channels.value.channels;
    renderChannels();
  }
  if (state.presenceChannel) await showPresence(state.presenceChannel, true);
  if (generation !== state.generation) return;
  setLive(!failures.length, failures.map((e) => e.message).join('; '));
}

/** Refreshes now and then every `state.interval`, until the generation changes. */
async function tick(generation) {
  try {
    await refresh(generation);
  } catch (e) {
    if (generation === state.generation) setLive(false, 'dashboard error: ' + e.message);
  }
  if (generation === state.generation) state.timer = setTimeout(() => tick(generation), state.interval);
}

/** Starts a new refresh chain; answers to the old one are dropped. */
function restart() {
  state.generation++;
  clearTimeout(state.timer);
  tick(state.generation);
}

function showSignIn(message) {
  $('dashboard').hidden = true;
  $('signout').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message || '';
  $('live').className = 'badge';
  $('live').textContent = 'signed out';
  for (const id of ['info-node', 'info-version', 'info-broker', 'info-uptime']) $(id).textContent = '–';
  $('key').focus();
}

function signOut(message) {
  state.generation++;
  clearTimeout(state.timer);
  apiKey = null;
  sessionStorage.removeItem(KEY_STORAGE);
  state.last = null;
  state.samples = [];
  state.channelsShown = '';
  state.presenceChannel = null;
  state.presenceShown = '';
  $('presence').tBodies[0].replaceChildren();
  showSignIn(message);
}

/** Checks the key with GET /api/info, then starts the dashboard. */
async function signIn(candidate) {
  apiKey = candidate;
  $('signin-button').disabled = true;
  try {
    await api('info');
  } catch (e) {
    apiKey = null;
    sessionStorage.removeItem(KEY_STORAGE);
    const why =
      e.status === 401
        ? 'That key was refused.'
        : e.status === 404
          ? 'The server API is off on this node (no api_key).'
          : `Cannot reach the node: ${e.message}`;
    showSignIn(why);
    return;
  } finally {
    $('signin-button').disabled = false;
  }
  sessionStorage.setItem(KEY_STORAGE, candidate);
  $('key').value = '';
  $('signin').hidden = true;
  $('dashboard').hidden = false;
  $('signout').hidden = false;
  restart();
}

function init() {
  charts.connections = new Chart($('chart-connections'), $('legend-connections'), formatCount, true);
  charts.messages = new Chart($('chart-messages'), $('legend-messages'), formatRate);
  charts.latency = new Chart($('chart-latency'), $('legend-latency'), (v) => formatMs(v).replace(' ms', ''));
  charts.errors = new Chart($('chart-errors'), $('legend-errors'), formatRate);

  const saved = Number(sessionStorage.getItem(INTERVAL_STORAGE));
  if ([1000, 2000, 5000, 10000].includes(saved)) $('interval').value = String(saved);
  state.interval = Number($('interval').value);
  $('interval').addEventListener('change', () => {
    state.interval = Number($('interval').value);
    sessionStorage.setItem(INTERVAL_STORAGE, String(state.interval));
    if (apiKey) restart();
  });
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const key = $('key').value.trim();
    if (key) signIn(key);
  });
  $('signout').addEventListener('click', () => signOut(''));
  $('channel-filter').addEventListener('input', renderChannels);
  $('presence-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const channel = $('presence-channel').value.trim();
    if (channel) showPresence(channel);
  });
  $('publish-form').addEventListener('submit', publish);
  $('disconnect-form').addEventListener('submit', disconnectUser);
  window.addEventListener('resize', () => {
    if (apiKey) renderCharts();
  });

  // A key in the fragment (#key=..., logged by the development profile) is
  // moved to sessionStorage and removed from the address bar and history.
  const fromFragment = /^#key=(.+)$/.exec(location.hash);
  if (fromFragment) history.replaceState(null, '', location.pathname + location.search);
  let candidate = sessionStorage.getItem(KEY_STORAGE);
  if (fromFragment) {
    try {
      candidate = decodeURIComponent(fromFragment[1]);
    } catch (e) {
      candidate = fromFragment[1];
    }
  }
  if (candidate) signIn(candidate);
  else showSignIn('');
}

init();
