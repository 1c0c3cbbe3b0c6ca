// The flexchat console: plain ES module, no framework, no build step (docs/console.md).
// Everything the page shows is built with DOM calls (textContent), never innerHTML, so
// no value from the API can become markup.

const API = "/console/api";
const app = document.getElementById("app");
let session = null;
let stream = null; // the open EventSource of a conversation
let keyHandler = null; // the current page's j/k/Enter handler
let timelineTimer = null; // the next read of a timeline whose deliveries are under way

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Append children to a parent, leaving out the absent ones (null, false).
function fill(parent, ...children) { parent.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false)); }

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && session) headers["X-CSRF-Token"] = session.csrf_token;
  const response = await fetch(API + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  // A session that ended while the page was open (expired, logged out elsewhere, token
  // rotated): back to the login form.
  if (response.status === 401 && session && path !== "/login") { session = null; render(); }
  if (!response.ok) throw new Error(data.message || `HTTP ${response.status}`);
  return data;
}

function toast(text) {
  let stack = document.querySelector(".toasts");
  if (!stack) { stack = h("div", { class: "toasts" }); document.body.append(stack); }
  const el = h("div", { class: "toast", role: "status" }, text);
  stack.append(el);
  setTimeout(() => el.remove(), 2500);
}

function pill(value, cls) { return value ? h("span", { class: `pill ${cls || value}` }, value) : h("span", { class: "muted" }, "—"); }
function when(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") : ""; }

// -- routing -------------------------------------------------------------------------

const PAGES = [
  ["channels", "Channels", "c"], ["flows", "Flows", "f"], ["requests", "Request log", "l"],
  ["faults", "Faults", "x"], ["account", "Account", "a"],
];

function route() {
  const [page, arg] = location.hash.replace(/^#\/?/, "").split("?")[0].split("/");
  return { page: page || "channels", arg };
}

function go(hash) { if (location.hash !== hash) location.hash = hash; else render(); }

async function render() {
  if (stream) { stream.close(); stream = null; }
  clearTimeout(timelineTimer);
  keyHandler = null;
  if (!session) {
    try { session = await call("GET", "/session"); } catch { session = null; }
  }
  if (!session) return renderLogin();
  const { page, arg } = route();
  const main = h("main", { id: "main", tabindex: "-1" });
  const nav = h("nav", { "aria-label": "Console" },
    h("div", { class: "brand" }, "flexchat console"),
    PAGES.map(([id, label, key]) => h("a", { href: `#/${id}`, class: page === id ? "on" : "", "aria-current": page === id ? "page" : null },
      label, h("kbd", {}, "g " + key))),
    h("div", { class: "who", title: "Logged in as" }, session.credential_sid,
      h("div", {}, h("button", { onclick: logout, class: "logout" }, "Log out"))));
  app.replaceChildren(h("div", { class: "shell" }, nav, main));
  const pages = { channels: channelsPage, channel: conversationPage, flows: flowsPage, requests: requestsPage, faults: faultsPage, account: accountPage };
  try {
    await (pages[page] || channelsPage)(main, arg);
    // After a page change keyboard focus starts in the page (screen readers announce it),
    // unless the page put it somewhere itself.
    if (document.activeElement === document.body) main.focus({ preventScroll: true });
  } catch (error) {
    fill(main, h("p", { class: "error" }, error.message));
  }
}

window.addEventListener("hashchange", render);

// -- keyboard: g+letter to switch pages, / to search, j/k/Enter in lists ---------------

let pendingG = false;
document.addEventListener("keydown", (event) => {
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(event.target.tagName);
  if (event.key === "Escape" && typing) { event.target.blur(); return; }
  if (typing || event.metaKey || event.ctrlKey || event.altKey || !session) return;
  if (pendingG) {
    pendingG = false;
    const found = PAGES.find(([, , key]) => key === event.key);
    if (found) { event.preventDefault(); go(`#/${found[0]}`); }
    return;
  }
  if (event.key === "g") { pendingG = true; return; }
  if (event.key === "/") {
    const search = document.querySelector("[data-search]");
    if (search) { event.preventDefault(); search.focus(); }
    return;
  }
  if (event.key === "?") { toast("g c/f/l/x/a: pages · j/k: move · Enter: open · /: search · r: reply · Esc: back"); return; }
  if (keyHandler) keyHandler(event);
});

// A list whose rows j/k move through and Enter opens.
function selectable(rows, open) {
  let index = 0;
  const mark = () => rows.forEach((row, i) => row.classList.toggle("sel", i === index));
  mark();
  rows.forEach((row, i) => row.addEventListener("click", () => { index = i; mark(); open(i); }));
  keyHandler = (event) => {
    if (!rows.length) return;
    if (event.key === "j") { index = Math.min(index + 1, rows.length - 1); mark(); rows[index].scrollIntoView({ block: "nearest" }); }
    else if (event.key === "k") { index = Math.max(index - 1, 0); mark(); rows[index].scrollIntoView({ block: "nearest" }); }
    else if (event.key === "Enter") open(index);
    else return;
    event.preventDefault();
  };
}

// -- login ---------------------------------------------------------------------------

function renderLogin() {
  const sid = h("input", { name: "sid", autocomplete: "username", required: true, placeholder: "AC… or SK…", autofocus: true });
  const secret = h("input", { name: "secret", type: "password", autocomplete: "current-password", required: true });
  const error = h("div", { class: "error", role: "alert" });
  const form = h("form", { class: "card login", onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      session = await call("POST", "/login", { sid: sid.value.trim(), secret: secret.value });
      secret.value = "";
      render();
    } catch (e) { error.textContent = e.message; }
  } },
    h("h1", {}, "flexchat console"),
    h("label", {}, "Account SID or API key SID", sid),
    h("label", {}, "Auth token or API key secret", secret),
    error,
    h("button", { class: "primary", type: "submit" }, "Log in"),
    h("p", { class: "muted" }, "The same credentials the API takes. The session lasts eight hours."));
  app.replaceChildren(form);
  sid.focus();
}

async function logout() {
  try { await call("POST", "/logout"); } catch { /* the cookie is cleared either way */ }
  session = null;
  location.hash = "";
  render();
}

// -- channels ------------------------------------------------------------------------

async function channelsPage(main) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const query = params.get("before") ? `?before=${params.get("before")}` : params.get("after") ? `?after=${params.get("after")}` : "";
  const data = await call("GET", "/channels" + query);
  const filter = h("input", { "data-search": true, type: "search", placeholder: "Filter this page, or paste a CH sid  ( / )", class: "grow", "aria-label": "Filter channels" });
  const body = h("tbody");
  const rowsOf = (list) => list.map((c) => h("tr", { "data-sid": c.sid },
    h("td", { class: "mono" }, c.sid), h("td", {}, c.identity), h("td", {}, c.friendly_name),
    h("td", {}, pill(c.status), " ", pill(c.open ? "open" : "closed")),
    h("td", { class: "mono" }, c.task_sid || h("span", { class: "muted" }, "—")),
    h("td", {}, c.messages_count), h("td", { class: "muted" }, when(c.date_created))));
  const show = (list) => {
    const rows = rowsOf(list);
    body.replaceChildren(...rows);
    selectable(rows, (i) => go(`#/channel/${list[i].sid}`));
  };
  filter.addEventListener("input", () => {
    const text = filter.value.trim().toLowerCase();
    show(data.channels.filter((c) => !text || [c.sid, c.identity, c.friendly_name, c.status, c.task_sid].some((v) => (v || "").toLowerCase().includes(text))));
  });
  filter.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && /^CH[0-9a-f]{32}$/i.test(filter.value.trim())) go(`#/channel/${filter.value.trim()}`);
    if (event.key === "ArrowDown" || event.key === "Enter") { filter.blur(); }
  });
  const newer = h("button", { disabled: data.newer === null, onclick: () => go(`#/channels?after=${data.newer}`) }, "← Newer");
  const older = h("button", { disabled: data.older === null, onclick: () => go(`#/channels?before=${data.older}`), "data-testid": "older" }, "Older →");
  fill(main, h("h1", {}, "Channels"),
    h("div", { class: "bar" }, filter, newer, older),
    h("table", { "aria-label": "Channels" },
      h("thead", {}, h("tr", {}, ["Channel", "Identity", "Name", "Status", "Task", "Messages", "Created"].map((t) => h("th", {}, t)))),
      body),
    data.channels.length ? null : h("p", { class: "muted" }, "No channels yet: create one with POST /v1/Channels."),
    h("p", { class: "hint" }, "j/k move · Enter opens · / filters · newest first, 50 a page"));
  show(data.channels);
}

// -- one conversation ----------------------------------------------------------------

function messageView(m) {
  const agent = m.from !== "system" && !m.from.startsWith("customer") && m._agent;
  return h("div", { class: "msg" + (agent ? " agent" : ""), "data-index": m.index },
    h("div", { class: "meta" }, `#${m.index} · ${m.from} · ${when(m.date_created)}`),
    h("div", {}, m.body || h("span", { class: "muted" }, "(no body)")));
}

async function conversationPage(main, sid) {
  const data = await call("GET", `/channels/${sid}`);
  const channel = data.channel;
  const agentName = localStorage.getItem("flexchat.agent") || "agent";
  const transcript = h("div", { class: "card transcript", "aria-label": "Transcript", role: "log" });
  const seen = new Set();
  const add = (m) => {
    if (seen.has(m.index)) return;
    seen.add(m.index);
    m._agent = m.from === (localStorage.getItem("flexchat.agent") || "agent");
    const stick = transcript.scrollTop + transcript.clientHeight >= transcript.scrollHeight - 20;
    transcript.append(messageView(m));
    if (stick) transcript.scrollTop = transcript.scrollHeight;
  };
  data.messages.forEach(add);
  const live = h("span", { class: "live off" }, "connecting");
  // The browser reconnects a dropped stream by itself (with Last-Event-ID); one refused
  // outright (a 503 while the database is away) is closed for good, so open a new one.
  const open = () => {
    const last = seen.size ? Math.max(...seen) : -1;
    const source = new EventSource(`${API}/channels/${sid}/stream?after=${last}`);
    source.addEventListener("open", () => { live.className = "live on"; live.textContent = "live"; });
    source.addEventListener("error", () => {
      live.className = "live off"; live.textContent = "reconnecting";
      if (source.readyState === EventSource.CLOSED && stream === source) setTimeout(() => { if (stream === source) open(); }, 3000);
    });
    source.addEventListener("message", (event) => { add(JSON.parse(event.data)); refreshTimeline(); });
    stream = source;
  };
  open();

  const from = h("input", { value: agentName, "aria-label": "Agent name", size: 12, onchange: () => localStorage.setItem("flexchat.agent", from.value.trim() || "agent") });
  const text = h("textarea", { "aria-label": "Reply as the agent", placeholder: "Reply as the agent (r) — Enter sends, Shift+Enter new line", "data-reply": true });
  const send = async () => {
    if (!text.value.trim()) return;
    try {
      add(await call("POST", `/channels/${sid}/messages`, { body: text.value, from: from.value.trim() || "agent" }));
      text.value = "";
      refreshTimeline();
    } catch (e) { toast(e.message); }
  };
  text.addEventListener("keydown", (event) => { if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); send(); } });
  const status = h("span", {}, pill(channel.status), " ", pill(channel.open ? "open" : "closed"));
  const task = h("span", { "data-task-sid": true }, channel.task_sid || "—");
  // After a button: the channel as the server now has it (Send to Flex makes the task).
  const show = (updated) => {
    status.replaceChildren(pill(updated.status), " ", pill(updated.open ? "open" : "closed"));
    task.textContent = updated.task_sid || "—";
  };
  const end = h("button", { class: "danger", disabled: !channel.open, onclick: async () => {
    if (!confirm("End this chat? Its status becomes INACTIVE and the Flex channel closes.")) return;
    try {
      show((await call("POST", `/channels/${sid}/end`)).channel);
      end.disabled = true;
      refreshTimeline();
    } catch (e) { toast(e.message); }
  } }, "End chat");
  // The agent's buttons run the same scripts as the control API (/flexchat/v1/...).
  const act = (label, action) => h("button", { onclick: async () => {
    try {
      show((await call("POST", `/channels/${sid}/${action}`, { from: from.value.trim() || "agent" })).channel);
      toast(`${label}: done`);
      refreshTimeline();
    } catch (e) { toast(e.message); }
  } }, label);
  const controls = h("div", { class: "controls" },
    act("Accept task", "accept"), act("Send to Flex", "sendtoflex"), act("Wrap up", "wrapup"),
    act("Complete", "complete"), end);

  const timelineBox = h("div", { class: "card timeline", "aria-label": "Timeline" });
  async function refreshTimeline() {
    clearTimeout(timelineTimer);
    try {
      const data = await call("GET", `/channels/${sid}/timeline`);
      if (!timelineBox.isConnected) return; // the page was left meanwhile
      timelineBox.replaceChildren(...timelineView(data));
      // A delivery under way settles without a new message: read again until none is.
      if (data.events.some((e) => e.state === "pending")) timelineTimer = setTimeout(refreshTimeline, 1000);
    } catch (e) { timelineBox.replaceChildren(h("p", { class: "error" }, e.message)); }
  }
  fill(main, 
    h("div", { class: "bar" }, h("a", { href: "#/channels" }, "← Channels"), h("span", { class: "grow" }), live),
    h("h1", {}, channel.friendly_name || channel.sid),
    h("div", { class: "bar mono" }, channel.sid, " · ", channel.identity, " · task ", task, " · ", status),
    h("div", { class: "convo" },
      h("section", {}, transcript, h("div", { class: "reply" }, from, text, h("button", { class: "primary", onclick: send }, "Send")), controls),
      h("section", {}, h("h2", { class: "first" }, "Timeline"), timelineBox)));
  transcript.scrollTop = transcript.scrollHeight;
  refreshTimeline();
  keyHandler = (event) => {
    if (event.key === "r") { event.preventDefault(); text.focus(); }
    else if (event.key === "Escape") go("#/channels");
  };
}

function timelineView(data) {
  const items = [
    ...data.messages.map((m) => ({ pos: m.position, node: h("div", { class: "event" }, h("strong", {}, "message "), `#${m.index} from ${m.from}: `, m.body || "") })),
    ...data.events.map((e) => ({ pos: e.position, node: eventView(e) })),
    ...(data.tasks || []).map((t) => ({ pos: t.position, node: h("div", { class: "event", "data-task": t.to_status },
      h("strong", {}, "task "), h("span", { class: "mono" }, t.task_sid), " ", t.from_status || "created", " → ", pill(t.to_status),
      t.reason ? ` (${t.reason})` : "") })),
    ...(data.executions || []).map((x) => ({ pos: x.position, node: h("div", { class: "event", "data-execution": x.sid },
      h("strong", {}, "studio execution "), h("span", { class: "mono" }, x.sid), " of ", h("span", { class: "mono" }, x.flow_sid), " ", pill(x.status)) })),
  ].sort((a, b) => b.pos - a.pos); // newest first, by the server's order (finer than date_created)
  return items.length ? items.map((i) => i.node) : [h("p", { class: "muted" }, "Nothing yet.")];
}

function eventView(e) {
  const attempts = e.delivery_attempts.length
    ? e.delivery_attempts.map((a) => h("div", {}, `attempt ${a.attempt} · ${when(a.started_at)} · ${a.duration_ms} ms · `,
        pill(a.status_code ? String(a.status_code) : (a.error || "no answer"), a.status_code ? "s" + String(a.status_code)[0] : "failed"),
        h("pre", {}, `X-Twilio-Signature: ${a.signature}`), a.response_start ? h("pre", {}, a.response_start) : null))
    : [h("div", { class: "muted" }, e.state === "recorded" ? "recorded (studio webhook: nothing is sent)" : "no delivery attempt yet")];
  return h("div", { class: "event", "data-event": e.event_type },
    h("strong", {}, e.event_type), " → ", h("span", { class: "mono" }, e.url || e.kind), " ", pill(e.state),
    h("details", {}, h("summary", {}, `${e.method} request, ${e.attempts} attempt(s) of ${e.retry_count + 1}`),
      h("pre", {}, JSON.stringify(e.params, null, 2)), attempts));
}

// -- flows ---------------------------------------------------------------------------

async function flowsPage(main) {
  const after = new URLSearchParams(location.hash.split("?")[1] || "").get("after");
  const data = await call("GET", "/flows" + (after ? `?after=${encodeURIComponent(after)}` : ""));
  const rows = data.flows.map((f) => h("tr", {},
    h("td", { class: "mono" }, f.sid), h("td", {}, f.friendly_name), h("td", {}, f.channel_type),
    h("td", {}, f.integration_type, " ", h("span", { class: "muted mono" }, f.integration.url || f.integration.flow_sid || f.integration.workflow_sid || "")),
    h("td", { class: "mono" }, f.chat_service_sid), h("td", {}, pill(f.enabled ? "enabled" : "disabled", f.enabled ? "open" : "closed"))));
  fill(main, h("h1", {}, "Flex Flows"),
    h("table", { "aria-label": "Flows" },
      h("thead", {}, h("tr", {}, ["Flow", "Name", "Channel type", "Integration", "Chat service", "State"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows)),
    data.flows.length ? null : h("p", { class: "muted" }, "No flows yet: create one with POST /v1/FlexFlows."),
    h("div", { class: "bar" },
      after ? h("button", { onclick: () => go("#/flows") }, "← First") : null,
      data.next_after !== null ? h("button", { onclick: () => go(`#/flows?after=${data.next_after}`) }, "More →") : null));
  selectable(rows, () => {});
}

// -- request log ---------------------------------------------------------------------

async function requestsPage(main) {
  const data = await call("GET", "/requests");
  const filter = h("input", { "data-search": true, type: "search", placeholder: "Filter ( / )", class: "grow", "aria-label": "Filter requests" });
  const body = h("tbody");
  const show = () => {
    const text = filter.value.trim().toLowerCase();
    const list = data.requests.filter((r) => !text || `${r.method} ${r.path} ${r.status}`.toLowerCase().includes(text));
    const rows = list.map((r) => h("tr", {},
      h("td", { class: "muted nowrap", title: r.time }, r.time.slice(11, 23)), h("td", {}, r.method), h("td", { class: "mono wrap" }, r.path),
      h("td", {}, pill(String(r.status), "s" + String(r.status)[0]), r.fault ? h("span", { class: "muted" }, ` ${r.fault}`) : null),
      h("td", {}, `${r.duration_ms} ms`),
      h("td", { class: "mono wrap" }, Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join("  "))));
    body.replaceChildren(...rows);
    selectable(rows, () => {});
  };
  filter.addEventListener("input", show);
  fill(main, h("h1", {}, "Request log"),
    h("div", { class: "bar" }, filter, h("button", { onclick: () => render() }, "Refresh")),
    h("table", { "aria-label": "Requests" },
      h("thead", {}, h("tr", {}, ["Time", "Method", "Path", "Status", "Duration", "Parameters"].map((t) => h("th", {}, t)))), body),
    h("p", { class: "hint" }, "The account's last 200 API calls served by this flexchat process; secret values show as ***."));
  show();
}

// -- faults --------------------------------------------------------------------------

const FAULT_FIELDS = [["error_rate", "ErrorRate"], ["error_status", "ErrorStatus"], ["throttle_rate", "ThrottleRate"],
  ["throttle_burst", "ThrottleBurst"], ["latency_ms", "LatencyMs"], ["drop_delivery_rate", "DropDeliveryRate"]];

async function faultsPage(main) {
  const data = await call("GET", "/faults");
  const rows = data.faults.map((rule) => {
    const inputs = FAULT_FIELDS.map(([field, name]) => h("input", { "aria-label": `${rule.family} ${name}`, name, value: String(rule[field]), "data-family": rule.family }));
    const on = rule.error_rate || rule.throttle_rate || rule.latency_ms || rule.drop_delivery_rate;
    return h("tr", {},
      h("td", {}, h("strong", {}, rule.family), " ", pill(on ? "on" : "off", on ? "failed" : "closed")),
      inputs.map((input) => h("td", {}, input)),
      h("td", {},
        h("button", { class: "primary", "data-apply": rule.family, onclick: async () => {
          const body = Object.fromEntries(inputs.map((i) => [i.name, i.value.trim()]));
          try { await call("POST", `/faults/${encodeURIComponent(rule.family)}`, body); toast(`Faults on ${rule.family} saved`); render(); }
          catch (e) { toast(e.message); }
        } }, "Apply"), " ",
        h("button", { "data-off": rule.family, onclick: async () => {
          try { await call("DELETE", `/faults/${encodeURIComponent(rule.family)}`); toast(`Faults on ${rule.family} off`); render(); }
          catch (e) { toast(e.message); }
        } }, "Off")));
  });
  fill(main, h("h1", {}, "Faults"),
    h("table", { class: "faults", "aria-label": "Faults" },
      h("thead", {}, h("tr", {}, ["Family", ...FAULT_FIELDS.map(([, n]) => n), ""].map((t) => h("th", {}, t)))), h("tbody", {}, rows)),
    h("p", { class: "hint" }, "Rates are from 0 to 1. Applies to this account's API calls on every flexchat process within a second; responses shaped by a fault carry X-Flexchat-Fault."));
}

// -- account -------------------------------------------------------------------------

async function accountPage(main) {
  const confirmBox = h("input", { "aria-label": "Type the Account SID to confirm", placeholder: session.account_sid, size: 40, class: "mono" });
  const result = h("pre");
  fill(main, h("h1", {}, "Account"),
    h("div", { class: "card" },
      h("p", {}, "Account ", h("span", { class: "mono" }, session.account_sid), ", logged in with ", h("span", { class: "mono" }, session.credential_sid), "."),
      h("h2", {}, "Reset the account's data"),
      h("p", {}, "Deletes every flow, channel, chat service, user, message, webhook, event and fault rule of this account. The account and its credentials stay."),
      h("div", { class: "bar" }, confirmBox, h("button", { class: "danger", onclick: async () => {
        try {
          const data = await call("POST", "/reset", { confirm: confirmBox.value.trim() });
          result.textContent = Object.entries(data.deleted).filter(([, n]) => n).map(([t, n]) => `${t}: ${n}`).join("\n") || "Nothing to delete.";
          toast("Account data deleted");
        } catch (e) { toast(e.message); }
      } }, "Reset")), result));
}

render();
