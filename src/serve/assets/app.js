// baton serve: the live view of one festival. Plain JavaScript, no build step, no network but
// the server that served it. Everything shown is built with DOM calls (never innerHTML), so text
// from the log cannot become markup.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const NODE_W = 190, NODE_H = 38, COL_W = 240, ROW_H = 52, PAD = 24;
const QUIET_TYPES = ['tick', 'heartbeat'];
const token = new URLSearchParams(location.hash.slice(1)).get('token');

let festival = null;      // GET /api/festival
let lastPosition = 0;     // the last log position shown in the log panel
let approvalsKey = '';    // what the approvals list was last built from
let loadingLog = false;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v; else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function amount(minor) {
  if (minor === null || minor === undefined) return '-';
  const d = festival ? festival.decimals : 2;
  const negative = minor < 0;
  const digits = String(Math.abs(minor)).padStart(d + 1, '0');
  const whole = d ? digits.slice(0, -d) : digits;
  return (negative ? '-' : '') + whole + (d ? '.' + digits.slice(-d) : '');
}

// The colour class of a task: waiting for approval, paid, failed, ended, pending or working.
function stateClass(task) {
  if (task.waiting_for_approval) return 'waiting';
  if (task.paid !== null && task.paid !== undefined) return 'paid';
  if (task.state === 'failed') return 'failed';
  if (task.terminal) return 'ended';
  const planned = festival && festival.tasks.find((t) => t.id === task.id);
  if (planned && planned.initial_state === task.state) return 'pending';
  return 'active';
}

function notice(text, isError) {
  const box = document.getElementById('notice');
  box.textContent = text;
  box.className = isError ? 'notice error' : 'notice';
  box.hidden = false;
}

// ---- The plan: tasks by wave, dependencies as edges, the critical path highlighted.

function drawPlan() {
  const dag = document.getElementById('dag');
  dag.replaceChildren();
  const byWave = new Map();
  for (const t of festival.tasks) {
    if (!byWave.has(t.wave)) byWave.set(t.wave, []);
    byWave.get(t.wave).push(t);
  }
  const place = new Map();
  let rows = 0;
  for (const [wave, tasks] of byWave) {
    tasks.forEach((t, i) => place.set(t.id, { x: PAD + (wave - 1) * COL_W, y: PAD + 28 + i * ROW_H }));
    rows = Math.max(rows, tasks.length);
    dag.append(svg('text', { class: 'wave-label', x: PAD + (wave - 1) * COL_W, y: PAD }, `wave ${wave}`));
  }
  dag.setAttribute('width', PAD * 2 + byWave.size * COL_W);
  dag.setAttribute('height', PAD * 2 + 28 + rows * ROW_H);
  const critical = festival.critical_path || [];
  const onPath = (a, b) => critical.some((id, i) => id === a && critical[i + 1] === b);
  for (const t of festival.tasks) {
    const to = place.get(t.id);
    for (const dep of t.depends_on) {
      const from = place.get(dep);
      if (!from) continue;
      dag.append(svg('path', { class: onPath(dep, t.id) ? 'edge critical' : 'edge', d: edgePath(from, to) }));
    }
  }
  for (const t of festival.tasks) dag.append(planNode(t, place.get(t.id), critical.includes(t.id)));
}

// An edge from the right of one task to the left of another. One that skips waves runs along
// the gap above its target's row, so it does not cross the tasks of the waves between.
function edgePath(from, to) {
  const x1 = from.x + NODE_W, y1 = from.y + NODE_H / 2, x2 = to.x, y2 = to.y + NODE_H / 2;
  const gap = COL_W - NODE_W;
  if (x2 - x1 <= gap) {
    const mid = (x1 + x2) / 2;
    return `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
  }
  const lane = to.y - (ROW_H - NODE_H) / 2;
  const a = x1 + gap / 2, b = x2 - gap / 2, q = gap / 4;
  return `M${x1},${y1} C${x1 + q},${y1} ${a - q},${lane} ${a},${lane} L${b},${lane} `
    + `C${b + q},${lane} ${x2 - q},${y2} ${x2},${y2}`;
}

function planNode(task, at, critical) {
  const g = svg('g', { class: 'node pending' + (critical ? ' critical' : ''), 'data-task': task.id,
    transform: `translate(${at.x},${at.y})` });
  g.append(svg('title', {}, `${task.id}: ${task.name}` + (task.gates.length ? `\ngates: ${task.gates.join(', ')}` : '')));
  g.append(svg('rect', { width: NODE_W, height: NODE_H, rx: 5 }));
  const label = task.id.length > 26 ? task.id.slice(0, 25) + '…' : task.id;
  g.append(svg('text', { x: 8, y: 15 }, label));
  g.append(svg('text', { class: 'sub', x: 8, y: 30 }, 'pending'));
  if (task.gates.length) {
    g.append(svg('circle', { class: 'gate', cx: NODE_W - 10, cy: 10, r: 7 }));
    g.append(svg('text', { class: 'gate-text', x: NODE_W - 13, y: 13 }, 'G'));
  }
  return g;
}

function colourPlan(tasks) {
  for (const t of tasks) {
    const g = document.querySelector(`#dag g[data-task="${CSS.escape(t.id)}"]`);
    if (!g) continue;
    const critical = g.classList.contains('critical');
    g.setAttribute('class', `node ${stateClass(t)}` + (critical ? ' critical' : ''));
    const sub = g.querySelector('text.sub');
    if (sub) sub.textContent = t.state + (t.agent ? ` · ${t.agent}` : '');
  }
}

// ---- The tasks table, the rejections and the counts.

function drawTasks(status) {
  const body = document.querySelector('#tasks tbody');
  const rows = status.tasks.map((t) => {
    let gate = '-', gateClass = '';
    if (t.gate) {
      gate = t.gate.passed ? 'passed' : 'failed: ' + t.gate.reasons.join('; ');
      if (!t.gate.passed) gateClass = 'gate-failed';
    }
    return el('tr', { 'data-task': t.id, 'data-state': t.state },
      el('td', {}, el('code', {}, t.id)),
      el('td', { class: 'state' }, el('span', { class: stateClass(t) }, t.state)),
      el('td', {}, t.agent || '-'),
      el('td', {}, `${t.attempt}/${t.max_attempts}`),
      el('td', { class: gateClass }, gate),
      el('td', { class: 'amount' }, amount(t.paid)),
      el('td', {}, t.tx || (t.payment_error ? 'error: ' + t.payment_error : '-')));
  });
  body.replaceChildren(...rows);
  document.getElementById('outcome').textContent = status.outcome;
  document.getElementById('paid').textContent = `${status.paid.amount} to ${status.paid.tasks} task(s)`;
  document.getElementById('position').textContent = status.position;
  const counts = Object.entries(status.counts).filter(([, n]) => n > 0).map(([s, n]) => el('span', {}, `${s} ${n}`));
  document.getElementById('counts').replaceChildren(...counts);
  const rejected = status.rejections.slice(-50).reverse().map((r) =>
    el('li', {}, `#${r.position} from ${r.sender || '?'}${r.task ? ` about ${r.task}` : ''}: ${r.reason}`));
  document.getElementById('rejections').replaceChildren(...rejected);
  document.getElementById('no-rejections').hidden = rejected.length > 0;
  if (status.log_error) notice(`reading the log: ${status.log_error}`, true);
}

// ---- Approvals: approve, or reject with a reason, as one of the server's signers.

function drawApprovals(approvals) {
  const key = JSON.stringify(approvals.approvals);
  if (key === approvalsKey) return;
  approvalsKey = key;
  // What a person typed or chose stays for the tasks still waiting.
  const kept = new Map();
  for (const li of document.querySelectorAll('#approvals li.approval')) {
    kept.set(li.dataset.task, { reason: li.querySelector('input.reason').value, as: li.querySelector('select.as').value });
  }
  const items = approvals.approvals.map(approvalItem);
  for (const li of items) {
    const before = kept.get(li.dataset.task);
    if (!before) continue;
    li.querySelector('input.reason').value = before.reason;
    const select = li.querySelector('select.as');
    if ([...select.options].some((o) => o.value === before.as)) select.value = before.as;
  }
  document.getElementById('approvals').replaceChildren(...items);
  document.getElementById('no-approvals').hidden = items.length > 0;
  document.getElementById('token-hint').hidden = !!token || items.length === 0;
}

function approvalItem(a) {
  const who = el('select', { class: 'as', 'aria-label': 'approve as' },
    ...a.signers.map((s) => el('option', { value: s }, s)));
  const reason = el('input', { class: 'reason', type: 'text', placeholder: 'reason (needed to reject)' });
  const approve = el('button', { class: 'approve', type: 'button' }, 'Approve');
  const reject = el('button', { class: 'reject', type: 'button' }, 'Reject');
  const item = el('li', { class: 'approval', 'data-task': a.task },
    el('div', { class: 'what' }, el('strong', {}, a.task), ` ${a.name} `, el('code', {}, a.state),
      el('div', { class: 'who' }, `attempt ${a.attempt}; may answer: ${a.may_answer.join(', ')}`)),
    who, reason, approve, reject);
  if (!token || a.signers.length === 0) {
    for (const b of [approve, reject]) b.disabled = true;
    if (a.signers.length === 0) item.title = 'this server signs as none of the approvers who may answer';
  }
  approve.addEventListener('click', () => answer(item, a.task, 'approve', who.value, reason.value));
  reject.addEventListener('click', () => {
    if (!reason.value.trim()) { notice(`rejecting task ${a.task} needs a reason`, true); reason.focus(); return; }
    answer(item, a.task, 'reject', who.value, reason.value);
  });
  return item;
}

async function answer(item, task, decision, approver, reason) {
  for (const b of item.querySelectorAll('button')) b.disabled = true;
  item.classList.add('sent');
  try {
    const res = await fetch(`/api/tasks/${encodeURIComponent(task)}/${decision}`, {
      method: 'POST',
      headers: { 'Authorization': `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ as: approver || undefined, reason: reason.trim() || undefined }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
    notice(`${body.decision} task ${body.task} as ${body.as}`, false);
  } catch (e) {
    notice(e.message, true);
    item.classList.remove('sent');
    for (const b of item.querySelectorAll('button')) b.disabled = false;
  }
}

// ---- The log: messages since the last position shown.

// What a message decided, when it decided something: an answer, a verdict, an event, a payment.
function detail(e) {
  const p = (e.message && e.message.payload) || {};
  const parts = [];
  if (p.decision) parts.push(p.decision);
  if (p.event) parts.push(p.event);
  if (typeof p.passed === 'boolean') parts.push(p.passed ? 'passed' : 'failed');
  if (p.tx_status) parts.push(String(p.tx_status).toLowerCase());
  if (p.reason) parts.push(`(${p.reason})`);
  return parts.length ? ': ' + parts.join(' ') : '';
}

async function loadLog() {
  if (loadingLog) return;
  loadingLog = true;
  try {
    const res = await fetch(`/api/events?since=${lastPosition}`);
    const page = await res.json();
    const list = document.getElementById('log');
    for (const e of page.events) {
      lastPosition = Math.max(lastPosition, e.position);
      // Ticks and heartbeats keep time and liveness; the API lists them, the panel does not.
      if (!e.rejected && QUIET_TYPES.includes(e.type)) continue;
      const what = `#${e.position} ${e.topic} ${e.type || '?'} from ${e.sender || '?'}${e.task ? ` about ${e.task}` : ''}${detail(e)}`;
      list.prepend(el('li', { class: e.rejected ? 'rejected' : '' }, e.rejected ? `${what}: rejected: ${e.rejected}` : what));
    }
    while (list.children.length > 300) list.lastElementChild.remove();
  } catch (e) {
    notice(`reading the log: ${e.message}`, true);
  } finally {
    loadingLog = false;
  }
}

// ---- Start: the plan once, then every state the server pushes.

async function start() {
  festival = await (await fetch('/api/festival')).json();
  document.title = `baton: ${festival.festival}`;
  document.getElementById('festival-name').textContent = festival.name || festival.festival;
  document.getElementById('festival-id').textContent = festival.festival;
  drawPlan();
  const live = document.getElementById('live');
  const events = new EventSource('/api/stream');
  events.addEventListener('open', () => { live.textContent = 'live'; live.className = 'live on'; });
  events.addEventListener('error', () => { live.textContent = 'reconnecting'; live.className = 'live off'; });
  events.addEventListener('state', (e) => {
    const state = JSON.parse(e.data);
    drawTasks(state.status);
    colourPlan(state.status.tasks);
    drawApprovals(state.approvals);
    if (state.status.position > lastPosition) loadLog();
  });
}

start().catch((e) => notice(`cannot load the festival: ${e.message}`, true));
