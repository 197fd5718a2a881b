// tcplab lab: the page. Plain JavaScript, no libraries, no network beyond this server.
//
// The whole session is its recipe (story, seed, at, actions), kept in the page's URL: every
// click makes a new recipe, pushes it to the URL and asks the server for the state it builds.
// Reloading or sharing the URL replays the same session (the simulator is deterministic).
"use strict";

const $ = (sel) => document.querySelector(sel);
const $$ = (sel) => Array.from(document.querySelectorAll(sel));

let recipe = { story: null, seed: 0, at: null, actions: [] };
let current = null; // the last state the server sent
let busy = 0;

function queryOf(r) {
  const p = new URLSearchParams();
  if (r.story) {
    p.append("story", r.story);
    p.append("seed", String(r.seed || 0));
    if (r.at !== null && r.at !== undefined) p.append("at", String(r.at));
  }
  for (const a of r.actions) p.append("a", a);
  return p.toString();
}

function recipeOf(search) {
  const p = new URLSearchParams(search);
  const at = p.get("at");
  return {
    story: p.get("story") || null,
    seed: p.get("seed") || 0,
    at: at === null ? null : at,
    actions: p.getAll("a"),
  };
}

function showError(text) {
  const box = $("#error");
  box.textContent = text;
  box.hidden = !text;
}

async function load(r, push) {
  const q = queryOf(r);
  busy += 1;
  document.body.classList.add("busy");
  try {
    const resp = await fetch("/api/state?" + q, { headers: { Accept: "application/json" } });
    let body;
    try {
      body = await resp.json();
    } catch (e) {
      body = { error: "the server answered " + resp.status + " " + resp.statusText };
    }
    if (!resp.ok || body.error) {
      showError(body.error || "the server answered " + resp.status);
      return false;
    }
    showError("");
    recipe = Object.assign({}, body.recipe);
    recipe.actions = body.recipe.actions.slice();
    const url = location.pathname + (body.query ? "?" + body.query : "");
    if (push) history.pushState(null, "", url);
    else history.replaceState(null, "", url);
    render(body);
    return true;
  } catch (e) {
    showError("cannot reach the lab server: " + e);
    return false;
  } finally {
    busy -= 1;
    if (!busy) document.body.classList.remove("busy");
  }
}

function act(actions) {
  // Actions continue the session: a story being stepped is taken over where it stands.
  const r = { story: recipe.story, seed: recipe.seed, at: recipe.at, actions: recipe.actions.slice() };
  const auto = parseFloat($("#auto").value);
  for (const a of actions) r.actions.push(a);
  if (auto > 0 && !actions.some((a) => a.startsWith("wait:") || a === "step")) r.actions.push("wait:" + auto);
  return load(r, true);
}

function render(s) {
  current = s;
  $("#now").textContent = s.time.toFixed(3) + " s";
  for (const host of ["client", "server"]) {
    const h = s.hosts[host];
    $("#state-" + host).textContent = h.state;
    const list = $("#host-" + host + " .conns");
    list.replaceChildren(
      ...h.conns.map((c) => {
        const li = document.createElement("li");
        li.textContent = c.conn + "  " + c.state;
        return li;
      })
    );
  }
  const ladder = $("#ladder");
  ladder.innerHTML = s.ladder || '<p class="hint">No segment yet: listen on one end, connect from the other.</p>';
  ladder.scrollTop = ladder.scrollHeight; // the newest segments in view (a live ladder grows down)
  $("#segments").textContent = s.segments ? "(" + s.segments + " segments)" : "";
  renderMessages(s.messages);
  renderDiagram(s);
  renderStory(s);
  $("#loss").value = s.link.loss;
  $("#loss-out").textContent = s.link.loss + " %";
  $("#latency").value = s.link.latency;
  $("#latency-out").textContent = s.link.latency + " ms";
  $("#dl-pcap").href = "/api/capture.pcapng?" + s.query;
  $("#dl-json").href = "/api/trace.jsonl?" + s.query;
  $("#undo").disabled = !(s.recipe.actions.length || (s.story && s.recipe.at));
  $("#story-select").value = s.recipe.story || "";
}

function renderMessages(messages) {
  $("#messages").replaceChildren(
    ...messages.map((m) => {
      const li = document.createElement("li");
      if (m.host) li.className = m.host;
      li.textContent = m.t.toFixed(3) + " s  " + (m.host ? m.host + ": " : "") + m.text;
      return li;
    })
  );
  const box = $("#messages");
  box.scrollTop = box.scrollHeight;
}

function renderDiagram(s) {
  const svg = $("#diagram svg");
  if (!svg) return;
  svg.querySelectorAll(".now-client, .now-server, .last").forEach((el) => el.classList.remove("now-client", "now-server", "last"));
  for (const host of ["client", "server"]) {
    const g = svg.querySelector('g[data-state="' + s.hosts[host].state + '"]');
    if (g) g.classList.add("now-" + host);
  }
  const t = s.last;
  const box = $("#explain");
  if (!t) {
    box.textContent = "";
    return;
  }
  const sel = 'g[data-from="' + t.from + '"][data-to="' + t.to + '"][data-cause="' + CSS.escape(t.cause) + '"]';
  svg.querySelectorAll(sel).forEach((g) => g.classList.add("last"));
  box.replaceChildren();
  const what = document.createElement("span");
  what.className = "what";
  what.textContent = t.host + ": " + t.from + " \u2192 " + t.to + " (" + t.cause + ") at " + t.t.toFixed(3) + " s. ";
  const text = document.createElement("span");
  text.textContent = t.text + " ";
  const rfc = document.createElement("span");
  rfc.className = "rfc";
  rfc.textContent = t.rfc ? "[" + t.rfc + "]" : "";
  box.append(what, text, rfc);
}

function renderStory(s) {
  const panel = $("#story-panel");
  if (!s.story) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  $("#story-name").textContent = s.story.name;
  $("#story-description").textContent = s.story.description;
  const stepping = !s.story.live;
  const total = s.story.total;
  const at = s.recipe.at;
  $("#step-count").textContent = s.story.live
    ? "taken over at segment " + (at === null ? total : at)
    : "segment " + s.story.shown + " of " + total + (s.story.ended ? " (the end)" : "");
  $("#step-first").disabled = !stepping || at === 0;
  $("#step-back").disabled = !stepping || at === 0;
  $("#step-next").disabled = !stepping || at === null;
  $("#step-last").disabled = !stepping || at === null;
  $("#story-hint").textContent = s.story.live
    ? "Playing by hand from there (undo to go back to stepping)."
    : "Step the story, then take over: any button below continues by hand.";
}

function stepTo(at) {
  const total = current && current.story ? current.story.total : 0;
  const r = { story: recipe.story, seed: recipe.seed, at: at, actions: [] };
  if (at !== null && at >= total) r.at = null;
  return load(r, true);
}

async function init() {
  const stories = await fetch("/api/stories").then((r) => r.json()).catch(() => []);
  const select = $("#story-select");
  for (const st of stories) {
    const o = document.createElement("option");
    o.value = st.name;
    o.textContent = st.name + " \u2014 " + st.description;
    select.append(o);
  }
  const svg = await fetch("/api/diagram.svg").then((r) => r.text()).catch(() => "");
  $("#diagram").innerHTML = svg;

  $$(".host").forEach((box) => {
    const host = box.dataset.host;
    box.querySelectorAll("button[data-op]").forEach((b) => {
      b.addEventListener("click", () => {
        const op = b.dataset.op;
        if (op === "send") {
          const n = parseInt(box.querySelector(".bytes").value, 10);
          act([host + ".send:" + (Number.isFinite(n) ? n : 0)]);
        } else {
          act([host + "." + op]);
        }
      });
    });
  });
  $$("button[data-rule]").forEach((b) =>
    b.addEventListener("click", () => {
      const rule = b.dataset.rule;
      const ms = parseInt($("#hold-ms").value, 10);
      // a network rule acts on what comes next: no time passes with it
      const r = { story: recipe.story, seed: recipe.seed, at: recipe.at, actions: recipe.actions.slice() };
      r.actions.push("net." + rule + ":" + b.dataset.dir + (rule === "delay" ? ":" + ms : ""));
      load(r, true);
    })
  );
  $$("button[data-wait]").forEach((b) =>
    b.addEventListener("click", () => act([b.dataset.wait === "step" ? "step" : "wait:" + b.dataset.wait]))
  );
  const knob = (id, name, unit) => {
    const input = $("#" + id);
    input.addEventListener("input", () => ($("#" + id + "-out").textContent = input.value + " " + unit));
    input.addEventListener("change", () => {
      const r = { story: recipe.story, seed: recipe.seed, at: recipe.at, actions: recipe.actions.slice() };
      r.actions.push("net." + name + ":" + input.value);
      load(r, true);
    });
  };
  knob("loss", "loss", "%");
  knob("latency", "latency", "ms");
  $("#story-load").addEventListener("click", () => {
    const name = $("#story-select").value;
    load(name ? { story: name, seed: 0, at: 0, actions: [] } : { story: null, seed: 0, at: null, actions: [] }, true);
  });
  $("#reset").addEventListener("click", () =>
    load({ story: recipe.story, seed: recipe.seed, at: recipe.story ? 0 : null, actions: [] }, true)
  );
  $("#undo").addEventListener("click", () => {
    const r = { story: recipe.story, seed: recipe.seed, at: recipe.at, actions: recipe.actions.slice() };
    if (r.actions.length) {
      // the last click: an action and the time let run after it, or one wait
      const last = r.actions.pop();
      const before = r.actions[r.actions.length - 1];
      if (last.startsWith("wait:") && before && !before.startsWith("wait:") && before !== "step") r.actions.pop();
    } else if (r.story && r.at) {
      r.at -= 1;
    }
    load(r, true);
  });
  $("#step-first").addEventListener("click", () => stepTo(0));
  $("#step-back").addEventListener("click", () => {
    const at = recipe.at === null ? current.story.total : Number(recipe.at);
    stepTo(Math.max(0, at - 1));
  });
  $("#step-next").addEventListener("click", () => stepTo(Number(recipe.at) + 1));
  $("#step-last").addEventListener("click", () => stepTo(null));
  $("#share").addEventListener("click", async () => {
    const url = location.href;
    try {
      await navigator.clipboard.writeText(url);
      showError("");
      $("#share").textContent = "link copied";
    } catch (e) {
      window.prompt("This link replays the session:", url);
    }
    setTimeout(() => ($("#share").textContent = "share"), 1500);
  });
  window.addEventListener("popstate", () => load(recipeOf(location.search), false));
  await load(recipeOf(location.search), false);
  document.body.dataset.ready = "1";
}

init();
