// The agentmock console. It calls only this server: the public API with the
// key in the "API key" field, and the admin API with the admin token when the
// server wants one. Every piece of data goes into the page as text
// (textContent or a text node), never as markup.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  // el makes an element; children that are strings become text nodes.
  function el(tag, opts, ...children) {
    const e = document.createElement(tag);
    if (opts) {
      if (opts.class) e.className = opts.class;
      if (opts.text !== undefined) e.textContent = String(opts.text);
      if (opts.title) e.title = opts.title;
    }
    for (const c of children) {
      if (c !== null && c !== undefined && c !== false) e.append(c);
    }
    return e;
  }

  // The tab's storage: the admin token lives here and nowhere else.
  const tab = {
    get(k) { try { return sessionStorage.getItem(k); } catch { return null; } },
    set(k, v) { try { sessionStorage.setItem(k, v); } catch { /* storage off: keep it in memory only */ } },
    del(k) { try { sessionStorage.removeItem(k); } catch { /* nothing to forget */ } },
  };
  const TOKEN = 'agentmock.adminToken';
  const KEY = 'agentmock.apiKey';
  let adminToken = tab.get(TOKEN) || '';

  class APIError extends Error {
    constructor(status, body) {
      const messages = (body && Array.isArray(body.messages)) ? body.messages : [];
      super(`${status} ${(body && body.code) || ''}`.trim());
      this.status = status;
      this.code = (body && body.code) || '';
      this.messages = messages;
    }
  }

  // describe is how an error reads on the page.
  function describe(err) {
    if (err instanceof APIError) {
      const what = [err.status, err.code].filter(Boolean).join(' ');
      return err.messages.length ? `${what}: ${err.messages.join('; ')}` : what;
    }
    return `request failed: ${err && err.message ? err.message : err}`;
  }

  function say(id, text) { $(id).textContent = text || ''; }

  function apiKey() { return $('api-key').value.trim(); }

  // call sends one request to this server: with the API key, or for admin
  // calls with the admin token.
  async function call(path, { method = 'GET', body, admin = false } = {}) {
    const headers = {};
    if (admin) {
      if (adminToken) headers.Authorization = `Bearer ${adminToken}`;
    } else if (apiKey()) {
      headers['x-api-key'] = apiKey();
    }
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, {
      method, headers, cache: 'no-store', credentials: 'omit',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (admin && res.status === 401) askForToken();
    return res;
  }

  async function errorOf(res) {
    let body = null;
    try { body = await res.json(); } catch { /* not JSON: the status says enough */ }
    return new APIError(res.status, body);
  }

  async function json(path, opts) {
    const res = await call(path, opts);
    if (!res.ok) throw await errorOf(res);
    if (res.status === 204) return null;
    return res.json();
  }

  const api = (path, opts) => json(path, opts);
  const admin = (path, opts = {}) => json(path, { ...opts, admin: true });
  const enc = encodeURIComponent;

  // The UTC date and time of an RFC 3339 string, as the API gives them.
  function when(iso) {
    if (typeof iso !== 'string') return '';
    return iso.replace('T', ' ').replace(/(\.\d+)?Z$/, '') + ' UTC';
  }

  // ---- admin token ---------------------------------------------------

  let waitingForToken = false;

  function askForToken() {
    waitingForToken = true;
    $('token-panel').hidden = false;
    say('token-error', adminToken ? 'The server did not accept this token.' : '');
    $('admin-token').focus();
  }

  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    adminToken = $('admin-token').value.trim();
    $('admin-token').value = '';
    tab.set(TOKEN, adminToken);
    $('token-panel').hidden = true;
    $('forget-token').hidden = false;
    waitingForToken = false;
    startAdmin();
  });

  $('forget-token').addEventListener('click', () => {
    adminToken = '';
    tab.del(TOKEN);
    $('forget-token').hidden = true;
  });

  // ---- API key ---------------------------------------------------------

  // myFingerprint is how the journal shows this console's key: the same
  // short hash as the server's KeyFingerprint, when the browser can hash.
  let myFingerprint = '';

  async function fingerprint(key) {
    if (!key || !window.crypto || !crypto.subtle) return '';
    const sum = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key)));
    return 'sha256:' + Array.from(sum.slice(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  async function keyChanged() {
    tab.set(KEY, apiKey());
    myFingerprint = await fingerprint(apiKey());
    $('hide-mine').disabled = !myFingerprint;
    renderJournal(true);
  }

  // ---- agents and sessions ---------------------------------------------

  const list = { pages: [''], next: '' }; // the page_key of each page shown so far

  async function loadAgents() {
    say('sessions-error', '');
    const select = $('agent');
    const before = select.value;
    const agents = [];
    let pageKey = '';
    try {
      for (let i = 0; i < 10; i++) {
        const q = new URLSearchParams({ limit: '100' });
        if (pageKey) q.set('page_key', pageKey);
        const body = await api(`/v2/agents?${q}`);
        agents.push(...body.agents);
        pageKey = body.metadata && body.metadata.page_key;
        if (!pageKey) break;
      }
    } catch (err) {
      say('sessions-error', `Agents: ${describe(err)}`);
      return false;
    }
    select.replaceChildren(...agents.map((a) => el('option', {
      text: a.name && a.name !== a.key ? `${a.name} (${a.key})` : a.key,
    })));
    agents.forEach((a, i) => { select.options[i].value = a.key; });
    if (agents.some((a) => a.key === before)) select.value = before;
    return true;
  }

  async function showSessions() {
    const agent = $('agent').value;
    say('sessions-error', '');
    if (!agent) {
      if (!(await loadAgents()) || !$('agent').value) return;
      return showSessions();
    }
    const q = new URLSearchParams();
    q.set('limit', $('limit').value || '10');
    if ($('enabled').value) q.set('enabled', $('enabled').value);
    if ($('filter').value) q.set('filter', $('filter').value);
    const pageKey = list.pages[list.pages.length - 1];
    if (pageKey) q.set('page_key', pageKey);
    let body;
    try {
      body = await api(`/v2/agents/${enc(agent)}/sessions?${q}`);
    } catch (err) {
      $('sessions').replaceChildren();
      say('sessions-status', '');
      say('sessions-error', describe(err));
      $('next-page').disabled = true;
      $('prev-page').disabled = list.pages.length < 2;
      return;
    }
    const sessions = body.sessions || [];
    const meta = body.metadata || {};
    list.next = meta.page_key || '';
    $('next-page').disabled = !list.next;
    $('prev-page').disabled = list.pages.length < 2;
    $('sessions').replaceChildren(...sessions.map((s) => sessionItem(agent, s)));
    const page = list.pages.length;
    const first = (page - 1) * Number(q.get('limit')) + 1;
    say('sessions-status', sessions.length
      ? `Page ${page}: ${first}–${first + sessions.length - 1} of ${meta.total_count ?? '?'} sessions`
      : `Page ${page}: no sessions (${meta.total_count ?? 0} in all)`);
  }

  function sessionItem(agent, s) {
    const key = s.key || s.id;
    const button = el('button', { title: s.description || '' },
      el('span', { class: 'name', text: s.name || key },
        s.enabled ? null : el('span', { class: 'badge off', text: 'disabled' })),
      el('span', { class: 'meta' }, el('span', { class: 'key', text: key }),
        el('span', { class: 'date', text: when(s.created_at).slice(0, 16), title: when(s.created_at) })));
    button.type = 'button';
    const li = el('li', null, button);
    li.dataset.key = key;
    if (current && current.agent === agent && current.key === key) li.classList.add('open');
    button.addEventListener('click', () => openSession(agent, s));
    return li;
  }

  $('sessions-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    list.pages = [''];
    showSessions();
  });
  $('agent').addEventListener('change', () => { list.pages = ['']; showSessions(); });
  $('enabled').addEventListener('change', () => { list.pages = ['']; showSessions(); });
  $('next-page').addEventListener('click', () => {
    if (!list.next) return;
    list.pages.push(list.next);
    showSessions();
  });
  $('prev-page').addEventListener('click', () => {
    if (list.pages.length < 2) return;
    list.pages.pop();
    showSessions();
  });

  // ---- the conversation ------------------------------------------------

  let current = null; // {agent, key, session}
  let eventsNext = '';

  const KINDS = {
    input_message: 'Input',
    thinking: 'Thinking',
    tool_input: 'Tool call',
    tool_output: 'Tool result',
    agent_output: 'Agent output',
    compaction: 'Compaction',
  };

  function count(n, what) {
    return typeof n === 'number' ? `${n} ${what}${n === 1 ? '' : 's'}` : `? ${what}s`;
  }

  function pretty(v) {
    try { return JSON.stringify(v, null, 2); } catch { return String(v); }
  }

  function inputText(ev) {
    return (Array.isArray(ev.messages) ? ev.messages : [])
      .map((m) => (m && typeof m.content === 'string' ? m.content : pretty(m)))
      .join('\n');
  }

  // eventItem shows one event so that its kind is plain: a label, a color,
  // and what that kind carries.
  function eventItem(ev) {
    const kind = Object.hasOwn(KINDS, ev.type) ? ev.type : 'other';
    const li = el('li', { class: `event ${kind}` });
    const head = el('div', { class: 'head' },
      el('span', { class: 'kind', text: KINDS[kind] || String(ev.type) }));
    const body = [];
    switch (kind) {
      case 'input_message':
        body.push(el('div', { class: 'text', text: inputText(ev) }));
        break;
      case 'thinking':
      case 'agent_output':
        body.push(el('div', { class: 'text', text: ev.content ?? '' }));
        break;
      case 'tool_input':
      case 'tool_output': {
        const out = kind === 'tool_output';
        head.append(el('span', { class: 'tool', text: [ev.tool_name, ev.tool_configuration_name].filter(Boolean).join(' · ') }));
        if (out && ev.error) {
          li.classList.add('failed');
          head.append(el('span', { class: 'badge off', text: 'error' }));
        }
        if (ev.tool_call_id) head.append(el('span', { class: 'mono', text: ev.tool_call_id }));
        body.push(el('pre', { text: pretty(out ? ev.tool_output : ev.tool_input) }));
        break;
      }
      case 'compaction':
        body.push(el('div', { class: 'text', text: `${count(ev.turns_compacted, 'turn')} (${count(ev.events_compacted, 'event')}) compacted into this summary:` }));
        if (ev.summary_text) body.push(el('div', { class: 'text', text: ev.summary_text }));
        break;
      default:
        body.push(el('pre', { text: pretty(ev) }));
    }
    if (ev.hidden) {
      li.classList.add('hidden');
      head.append(el('span', { class: 'badge', text: 'hidden' }));
    }
    head.append(el('span', { class: 'when', text: when(ev.created_at), title: ev.id || '' }));
    li.append(head, ...body);
    if (ev.id) li.dataset.id = ev.id;
    return li;
  }

  function openSession(agent, s) {
    const key = s.key || s.id;
    current = { agent, key, session: s };
    for (const li of $('sessions').children) li.classList.toggle('open', li.dataset.key === key);
    const meta = s.metadata && typeof s.metadata === 'object' ? Object.entries(s.metadata) : [];
    const dl = el('dl');
    for (const [k, v] of [['agent', agent], ['session', key], ['enabled', String(s.enabled)], ...meta]) {
      dl.append(el('dt', { text: k }), el('dd', { text: typeof v === 'string' ? v : pretty(v) }));
    }
    $('session-info').replaceChildren(
      el('div', { class: 'title', text: s.name || key },
        s.enabled ? null : el('span', { class: 'badge off', text: 'disabled' })),
      s.description ? el('div', { class: 'hint', text: s.description }) : null,
      dl);
    for (const id of ['message', 'send', 'reload-events', 'compact']) $(id).disabled = false;
    $('message').placeholder = `Write to ${agent}`;
    say('send-error', '');
    loadEvents();
  }

  const EVENT_PAGES = 5; // of 100 events, per load

  async function loadEvents(more = false) {
    if (!current) return;
    const { agent, key } = current;
    say('events-error', '');
    // The list changes in one step once the events are in, so that it
    // never shows half a reload.
    const items = [];
    let next = more ? eventsNext : '';
    try {
      for (let i = 0; i < EVENT_PAGES; i++) {
        const q = new URLSearchParams({ limit: '100', include_hidden: String($('include-hidden').checked) });
        if (next) q.set('page_key', next);
        const body = await api(`/v2/agents/${enc(agent)}/sessions/${enc(key)}/events?${q}`);
        if (current.key !== key || current.agent !== agent) return; // another session opened meanwhile
        items.push(...(body.events || []).map(eventItem));
        next = (body.metadata && body.metadata.page_key) || '';
        if (!next) break;
      }
    } catch (err) {
      say('events-error', describe(err));
    }
    eventsNext = next;
    if (more) {
      $('events').append(...items);
    } else {
      $('events').replaceChildren(...items);
    }
    $('more-events').hidden = !eventsNext;
    if (!$('events').children.length && !$('events-error').textContent) {
      $('events').append(el('li', { class: 'hint', text: 'No events yet: send a message below.' }));
    }
  }

  $('include-hidden').addEventListener('change', () => loadEvents());
  $('reload-events').addEventListener('click', () => loadEvents());
  $('more-events').addEventListener('click', () => loadEvents(true));

  function scrollToEnd() {
    const events = $('events');
    events.scrollTop = events.scrollHeight;
  }

  function dropHint() {
    for (const li of $('events').querySelectorAll('li.hint')) li.remove();
  }

  $('compact').addEventListener('click', async () => {
    if (!current) return;
    say('events-error', '');
    try {
      await api(`/v2/agents/${enc(current.agent)}/sessions/${enc(current.key)}/events`,
        { method: 'POST', body: { type: 'compact' } });
    } catch (err) {
      say('events-error', `Compact: ${describe(err)}`);
      return;
    }
    await loadEvents();
    scrollToEnd();
  });

  // readFrames reads a text/event-stream body and calls onFrame with each
  // frame's JSON. It returns once the body ends.
  async function readFrames(res, onFrame) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    const flush = () => {
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = block.split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data) onFrame(JSON.parse(data));
      }
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
      flush();
    }
    buf += decoder.decode();
    flush();
  }

  // live is a growing event of a streamed reply: thinking or output.
  function live(kind) {
    const li = eventItem({ type: kind, content: '' });
    streaming(li, true);
    $('events').append(li);
    return { li, text: li.querySelector('.text') };
  }

  // streaming marks an event that is still coming in, or no longer.
  function streaming(li, on, label = 'streaming') {
    li.classList.toggle('streaming', on);
    const head = li.querySelector('.head');
    const badge = head.querySelector('.badge.live');
    if (on && !badge) head.insertBefore(el('span', { class: 'badge live', text: label }), head.querySelector('.when'));
    if (!on && badge) badge.remove();
  }

  async function send(text) {
    const { agent, key } = current;
    const stream = $('stream').checked;
    say('send-error', '');
    $('send').disabled = true;
    dropHint();
    const pending = eventItem({ type: 'input_message', messages: [{ type: 'text', content: text }] });
    streaming(pending, true, 'sending');
    $('events').append(pending);
    scrollToEnd();
    try {
      const res = await call(`/v2/agents/${enc(agent)}/sessions/${enc(key)}/events`, {
        method: 'POST',
        body: { type: 'input_message', messages: [{ type: 'text', content: text }], stream_response: stream },
      });
      if (!res.ok) throw await errorOf(res);
      $('message').value = '';
      streaming(pending, false);
      if ((res.headers.get('Content-Type') || '').startsWith('text/event-stream')) {
        await showStream(res);
      } else {
        const body = await res.json();
        pending.remove();
        $('events').append(...(body.events || []).map(eventItem));
      }
    } catch (err) {
      pending.remove();
      say('send-error', describe(err));
    } finally {
      $('send').disabled = false;
    }
    scrollToEnd();
  }

  // showStream shows a streamed reply as it comes: thinking and output grow
  // chunk by chunk, tool calls appear whole.
  async function showStream(res) {
    let thinking = null;
    let output = null;
    let ended = false;
    let broken = null;
    await readFrames(res, (f) => {
      switch (f.type) {
        case 'streaming_thinking':
          thinking = thinking || live('thinking');
          thinking.text.textContent += f.content || '';
          break;
        case 'streaming_thinking_end':
          if (thinking) streaming(thinking.li, false);
          break;
        case 'tool_input':
        case 'tool_output':
          $('events').append(eventItem(f));
          break;
        case 'streaming_agent_output':
          output = output || live('agent_output');
          output.text.textContent += f.content || '';
          break;
        case 'streaming_agent_output_end':
          if (output) {
            streaming(output.li, false);
            if (f.event_id) output.li.dataset.id = f.event_id;
          }
          break;
        case 'error':
          $('events').append(el('li', { class: 'event error' },
            el('div', { class: 'head' }, el('span', { class: 'kind', text: 'Stream error' })),
            el('div', { class: 'text', text: (f.messages || []).join('; ') })));
          say('send-error', `The stream reported an error: ${(f.messages || []).join('; ')}`);
          break;
        case 'end':
          ended = true;
          break;
        default:
          $('events').append(eventItem(f));
      }
      scrollToEnd();
    }).catch((err) => { broken = err; });
    for (const part of [thinking, output]) if (part) streaming(part.li, false);
    if (broken) {
      say('send-error', `The stream broke off before its end frame (${broken.message || broken}). The turn is stored: Reload shows it.`);
    } else if (!ended) {
      say('send-error', 'The stream stopped before its end frame. The turn is stored: Reload shows it.');
    }
  }

  $('send-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('message').value;
    if (!current || $('send').disabled) return;
    if (!text.trim()) {
      say('send-error', 'Write a message first.');
      return;
    }
    send(text);
  });
  $('message').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      $('send-form').requestSubmit();
    }
  });

  // ---- scenarios -------------------------------------------------------

  // changes counts the scenario and clock changes made here: a poll that
  // started before one does not overwrite what it shows.
  let changes = 0;

  let scenarioList = [];

  function describeScenario() {
    const s = scenarioList.find((x) => x.name === $('scenario').value);
    say('scenario-description', s ? s.description || '' : '');
  }

  function showActive(active) {
    if (!active.length) {
      say('scenario-active', 'No scenario is active: the mock answers normally.');
      return;
    }
    say('scenario-active', 'Active: ' + active.map((a) => {
      const fired = (a.rules || []).reduce((n, r) => n + (r.fired || 0), 0);
      return `${a.name} (${a.api_key ? `for key ${a.api_key}` : 'everyone'}, fired ${fired}×)`;
    }).join('; '));
  }

  async function loadScenarios(fill) {
    const seen = changes;
    const body = await admin('/__admin/scenarios');
    if (seen !== changes) return;
    if (fill) {
      const before = $('scenario').value;
      scenarioList = body.scenarios || [];
      $('scenario').replaceChildren(...scenarioList.map((s) => el('option', { text: s.name })));
      if (scenarioList.some((s) => s.name === before)) $('scenario').value = before;
      describeScenario();
    }
    showActive(body.active || []);
  }

  $('scenario').addEventListener('change', describeScenario);
  $('scenario-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    say('scenario-error', '');
    changes++;
    const req = { name: $('scenario').value };
    if ($('scenario-key').value.trim()) req.api_key = $('scenario-key').value.trim();
    try {
      const body = await admin('/__admin/scenario', { method: 'PUT', body: req });
      showActive(body.active || []);
    } catch (err) {
      say('scenario-error', describe(err));
    }
  });
  $('deactivate').addEventListener('click', async () => {
    say('scenario-error', '');
    const key = $('scenario-key').value.trim();
    changes++;
    try {
      await admin('/__admin/scenario' + (key ? `?api_key=${enc(key)}` : ''), { method: 'DELETE' });
      await loadScenarios(false);
    } catch (err) {
      say('scenario-error', describe(err));
    }
  });

  // ---- clock -------------------------------------------------------------

  function showClock(c) {
    say('clock-now', `${when(c.now).replace(/\.\d+ UTC$/, ' UTC')} · ${c.frozen ? 'moved by hand: it stands still' : 'real time'}`);
  }

  async function loadClock() {
    const seen = changes;
    const c = await admin('/__admin/clock');
    if (seen === changes) showClock(c);
  }

  $('clock-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    say('clock-error', '');
    changes++;
    try {
      showClock(await admin('/__admin/clock', { method: 'POST', body: { advance: $('advance').value.trim() } }));
    } catch (err) {
      say('clock-error', describe(err));
    }
  });
  $('real-clock').addEventListener('click', async () => {
    say('clock-error', '');
    changes++;
    try {
      showClock(await admin('/__admin/clock', { method: 'DELETE' }));
    } catch (err) {
      say('clock-error', describe(err));
    }
  });

  // ---- the request journal ---------------------------------------------
  //
  // The console polls GET /__admin/requests once a second: the admin API has
  // no push channel, admin calls are not journaled (so polling does not fill
  // the journal with itself), and one small GET a second to the same server
  // costs nothing. It skips its turn while the tab is hidden.

  const POLL_MS = 1000;
  const JOURNAL_LIMIT = 100;
  let journal = [];
  let seen = new Set();
  let primed = false; // rows of the first load are not marked as new
  let shownSignature = '';

  function entryId(e) { return `${e.time}|${e.method}|${e.path}|${e.query || ''}|${e.status}`; }

  function millis(ns) {
    const ms = (ns || 0) / 1e6;
    return `${ms.toFixed(ms < 1 ? 2 : 1)} ms`;
  }

  function journalItem(e, fresh) {
    const mine = myFingerprint && e.api_key === myFingerprint;
    const notes = [e.route, mine ? 'this console' : e.api_key, e.error_code, e.rule && `rule ${e.rule}`, e.fault && `fault ${e.fault}`]
      .filter(Boolean).join(' · ');
    const li = el('li', null,
      el('div', { class: 'line' },
        el('span', { class: 'mono', text: typeof e.time === 'string' ? e.time.slice(11, 19) : '', title: e.time || '' }),
        el('span', { class: 'method', text: e.method }),
        el('span', { class: 'status', text: e.status ? String(e.status) : 'no status' }),
        el('span', { class: 'ms', text: millis(e.duration_ns) })),
      el('span', { class: 'path mono', text: `${e.path}${e.query ? '?' + e.query : ''}` }),
      el('span', { class: 'note', text: notes }));
    if (!e.status || e.status >= 400) li.classList.add('fail');
    if (mine) li.classList.add('mine');
    if (fresh) li.classList.add('fresh');
    return li;
  }

  function renderJournal(force) {
    const hide = $('hide-mine').checked && myFingerprint;
    const shown = journal.filter((e) => !hide || e.api_key !== myFingerprint);
    const signature = `${hide}|${shown.length}|${shown.length ? entryId(shown[shown.length - 1]) : ''}`;
    if (!force && signature === shownSignature) return;
    shownSignature = signature;
    const rows = shown.slice().reverse().map((e) => journalItem(e, primed && !seen.has(entryId(e))));
    seen = new Set(journal.map(entryId));
    $('journal').replaceChildren(...rows);
    if (!rows.length) {
      $('journal').append(el('li', { class: 'hint', text: 'No requests yet. Calls to the API by any client show here.' }));
    }
  }

  async function loadJournal() {
    const body = await admin(`/__admin/requests?limit=${JOURNAL_LIMIT}`);
    journal = body.requests || [];
    renderJournal(false);
    primed = true;
    say('journal-status', `${journal.length} latest, newest first · updated ${new Date().toISOString().slice(11, 19)} UTC · every second`);
  }

  $('hide-mine').addEventListener('change', () => renderJournal(true));
  $('live').addEventListener('change', () => { if ($('live').checked) poll(); });
  $('clear-journal').addEventListener('click', async () => {
    say('journal-error', '');
    try {
      await admin('/__admin/requests', { method: 'DELETE' });
      await loadJournal();
    } catch (err) {
      say('journal-error', describe(err));
    }
  });

  let timer = 0;
  let inFlight = false;

  // poll refreshes the journal, the clock and the active scenario, then
  // waits a second: one round at a time, however slow the server is.
  async function poll() {
    clearTimeout(timer);
    if (inFlight || waitingForToken) return;
    inFlight = true;
    try {
      if (!document.hidden) {
        const jobs = [loadClock(), loadScenarios(false)];
        if ($('live').checked) jobs.push(loadJournal());
        const results = await Promise.allSettled(jobs);
        const failed = results.find((r) => r.status === 'rejected');
        say('journal-error', failed ? describe(failed.reason) : '');
      }
    } finally {
      inFlight = false;
    }
    if (!waitingForToken) timer = setTimeout(poll, POLL_MS);
  }

  document.addEventListener('visibilitychange', () => { if (!document.hidden) poll(); });

  // ---- start -------------------------------------------------------------

  async function startAdmin() {
    try {
      await loadScenarios(true);
    } catch (err) {
      if (!waitingForToken) say('scenario-error', describe(err));
      return;
    }
    poll();
  }

  async function start() {
    const saved = tab.get(KEY);
    if (saved !== null) $('api-key').value = saved;
    $('forget-token').hidden = !adminToken;
    $('api-key').addEventListener('change', () => { keyChanged(); list.pages = ['']; showSessions(); });
    await keyChanged();
    startAdmin();
    if (await loadAgents()) await showSessions();
  }

  start();
})();
