/* The teaching dashboard: a live (or replayed) view of the regional chain on a schematic map.
 *
 * Sources of events, in order of precedence:
 *   window.YRD_REPLAY            an array of events, or {topology, events, speed}
 *   ?replay=URL                  the same JSON, fetched
 *   /dashboard/events            the live server-sent events of the whole network
 * With ?static the page draws one still picture instead, for screenshots and printing: the
 * replay (or /dashboard/snapshot, the network as it is now) applied at once, no stream, no
 * motion; <body data-ready="true"> once it is drawn and the page's font has loaded.
 * Event shapes: docs/spec/dashboard-events.md. DOM state for tests and teachers: every node is
 * <g class="node" data-node data-city data-health data-role data-height>, every city
 * <g class="city" data-city data-records>, every query arc <path class="arc query" data-from
 * data-to>, every told step <li data-type> in #story.
 */
"use strict";

(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const STALE_MS = 5000; // no status for this long: the node counts as down
  const BEHIND_BLOCKS = 3; // this many blocks below the highest node: behind
  const NODE_RING_PX = 17;
  const MAX_PARTICLES = 160;
  const MAX_STORY = 250;
  const ARC_LIFETIME_MS = 15000;
  const MARK_LIFETIME_MS = 6000;
  const MAX_REPLAY_GAP_MS = 1500;

  const params = new URLSearchParams(window.location.search);
  const state = {
    topology: null, mode: "live", nodes: new Map(), cities: new Map(), rotation: [],
    maxHeight: 0, round: 0, grants: new Map(), told: new Set(), keys: new Set(),
    particles: [], clockMs: Date.now(), eventCount: 0, lang: params.get("lang") || "both",
    heartbeats: null,
  };
  window.YRD_STATE = state;

  const $ = (selector) => document.querySelector(selector);
  const svg = $("#map");
  const layers = {};

  function el(tag, attributes, parent) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function now() {
    return state.mode === "live" ? Date.now() : state.clockMs;
  }

  // Drawing the map ---------------------------------------------------------------------------

  function drawBase() {
    svg.setAttribute("viewBox", `0 0 ${YRD_MAP.WIDTH} ${YRD_MAP.HEIGHT}`);
    svg.replaceChildren();
    const defs = el("defs", {}, svg);
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5",
      markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0L10,5L0,10z", class: "arrow-head" }, marker);
    const unverified = el("marker", { id: "arrow-unverified", viewBox: "0 0 10 10", refX: "9",
      refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0L10,5L0,10z", class: "arrow-head unverified" }, unverified);
    for (const name of ["sea", "provinces", "water", "links", "arcs", "cities", "nodes",
      "marks", "particles"]) {
      layers[name] = el("g", { class: `layer-${name}` }, svg);
    }
    el("rect", { x: 0, y: 0, width: YRD_MAP.WIDTH, height: YRD_MAP.HEIGHT, class: "sea" },
      layers.sea);
    for (const province of YRD_MAP.PROVINCES) {
      el("path", { d: YRD_MAP.pathOf(province.outline, true),
        class: `province province-${province.province || province.id}` }, layers.provinces);
      if (province.label) {
        const [x, y] = YRD_MAP.project(...province.label);
        const label = el("text", { x, y, class: `province-label province-label-${province.id}` },
          layers.provinces);
        label.textContent = `${province.name_zh} ${province.name_en}`;
      }
    }
    el("path", { d: YRD_MAP.pathOf(YRD_MAP.YANGTZE, false), class: "river" }, layers.water);
    const [tx, ty] = YRD_MAP.project(YRD_MAP.TAIHU.lon, YRD_MAP.TAIHU.lat);
    el("ellipse", { cx: tx, cy: ty, rx: YRD_MAP.TAIHU.rx * YRD_MAP.COS_LAT * YRD_MAP.SCALE,
      ry: YRD_MAP.TAIHU.ry * YRD_MAP.SCALE, class: "lake" }, layers.water);
    const note = el("text", { x: 12, y: YRD_MAP.HEIGHT - 12, class: "map-note" }, layers.sea);
    note.textContent = "示意图，省界为近似轮廓 · schematic outlines, not survey borders";
  }

  function applyTopology(topology) {
    state.topology = topology;
    state.rotation = topology.rotation || topology.nodes.map((n) => n.node_id);
    drawBase();
    state.cities.clear();
    for (const city of topology.cities) {
      const [x, y] = YRD_MAP.project(city.longitude, city.latitude);
      const group = el("g", { class: "city", "data-city": city.id, "data-records": "0",
        transform: `translate(${x},${y})` }, layers.cities);
      el("circle", { r: 30, class: "city-halo" }, group);
      const place = YRD_MAP.LABELS[city.id] || YRD_MAP.LABELS.default;
      const label = el("text", { x: place.dx, y: place.dy, class: "city-label",
        "text-anchor": place.anchor }, group);
      label.textContent = `${city.name_zh} ${city.name_en}`;
      const badge = el("text", { x: place.dx, y: place.dy > 0 ? place.dy + 14 : 46,
        class: "city-records", "text-anchor": place.anchor }, group);
      state.cities.set(city.id, { ...city, x, y, group, badge, records: 0, queries: 0 });
    }
    const perCity = new Map();
    for (const node of topology.nodes) perCity.set(node.city, (perCity.get(node.city) || 0) + 1);
    const seenInCity = new Map();
    const previous = state.nodes;
    state.nodes = new Map();
    for (const node of topology.nodes) {
      const city = state.cities.get(node.city);
      const count = perCity.get(node.city);
      const index = seenInCity.get(node.city) || 0;
      seenInCity.set(node.city, index + 1);
      const angle = -Math.PI / 2 + (2 * Math.PI * index) / count;
      const radius = count === 1 ? 0 : NODE_RING_PX;
      const x = city.x + radius * Math.cos(angle), y = city.y + radius * Math.sin(angle);
      const group = el("g", { class: "node", "data-node": node.node_id, "data-city": node.city,
        "data-health": "unknown", "data-role": "validator", "data-height": "0",
        transform: `translate(${x.toFixed(1)},${y.toFixed(1)})` }, layers.nodes);
      el("circle", { r: 11, class: "node-role" }, group);
      el("circle", { r: 8, class: "node-body" }, group);
      const cross = el("path", { d: "M-4,-4L4,4M4,-4L-4,4", class: "node-cross" }, group);
      const height = el("text", { x: 0, y: 3.5, class: "node-height" }, group);
      const title = el("title", {}, group);
      const old = previous.get(node.node_id) || {};
      state.nodes.set(node.node_id, {
        id: node.node_id, city: node.city, x, y, group, height, title, cross,
        blockHeight: old.blockHeight || 0, round: old.round || 0, health: old.health || "unknown",
        lastSeen: old.lastSeen || 0, hasStatus: old.hasStatus || false, cut: old.cut || [],
        slow: old.slow || {}, mempool: old.mempool || 0,
      });
    }
    $("#preset").textContent = `${topology.preset} · ${topology.nodes.length} 节点 nodes · ` +
      `${topology.cities.length} 城市 cities`;
    buildControls(topology);
    buildNodeTable();
    render();
  }

  // Names for the narration ---------------------------------------------------------------------

  const context = {
    city(id) {
      const city = state.cities.get(id);
      return city ? { zh: city.name_zh, en: city.name_en } : null;
    },
    node(id) {
      const node = state.nodes.get(id);
      const city = node && state.cities.get(node.city);
      if (!node || !city) return { zh: id || "?", en: id || "?" };
      const number = id.split("-").pop();
      return { zh: `${city.name_zh}-${number} 号节点`, en: `${city.name_en} node ${number}` };
    },
    institution(address) {
      const found = (state.topology?.institutions || []).find((i) => i.address === address);
      return found ? found.name : null;
    },
    enterprise(code) {
      const found = (state.topology?.enterprises || []).find((e) => e.credit_code === code);
      return found ? { name: found.name, city: found.city } : null;
    },
    grantHeight(enterprise, querierCity) {
      return state.grants.get(`${enterprise}|${querierCity}`) ?? null;
    },
    get validators() { return state.rotation.length; },
    get quorum() {
      const n = state.rotation.length;
      return n - Math.floor((n - 1) / 3);
    },
  };

  // Events ---------------------------------------------------------------------------------

  function tell(event, onceKey) {
    if (onceKey) {
      if (state.told.has(onceKey)) return;
      state.told.add(onceKey);
      if (state.told.size > 5000) state.told = new Set([...state.told].slice(-2500));
    }
    const words = YRD_NARRATE(event, context);
    if (!words) return null;
    const item = document.createElement("li");
    item.dataset.type = event.type;
    const time = new Date(event.time_ms || now()).toLocaleTimeString("zh-CN", { hour12: false });
    item.innerHTML = `<time></time><p class="zh"></p><p class="en"></p>`;
    item.querySelector("time").textContent = time;
    item.querySelector(".zh").textContent = words.zh;
    item.querySelector(".en").textContent = words.en;
    const story = $("#story");
    story.prepend(item);
    while (story.children.length > MAX_STORY) story.lastElementChild.remove();
    return item;
  }

  /* Empty heartbeat blocks are told as one running line ("blocks 412-431: 20 empty blocks")
   * that grows in place until something else happens; then the next empty block starts a new
   * line. A quiet network would otherwise flood the story with one line per second. */
  function tellHeartbeat(event) {
    const onceKey = `commit:${event.height}`;
    if (state.told.has(onceKey)) return;
    state.told.add(onceKey);
    const story = $("#story");
    let run = state.heartbeats;
    if (!run || !run.item || story.firstElementChild !== run.item) {
      run = { first: event.height, last: event.height, count: 0, item: null };
      state.heartbeats = run;
    }
    run.count += 1;
    run.first = Math.min(run.first, event.height);
    run.last = Math.max(run.last, event.height);
    const summary = { type: "heartbeats", first: run.first, last: run.last, count: run.count,
      time_ms: event.time_ms };
    if (!run.item) {
      run.item = tell(summary);
      return;
    }
    const words = YRD_NARRATE(summary, context);
    run.item.querySelector(".zh").textContent = words.zh;
    run.item.querySelector(".en").textContent = words.en;
    run.item.dataset.count = String(run.count);
    run.item.querySelector("time").textContent =
      new Date(event.time_ms || now()).toLocaleTimeString("zh-CN", { hour12: false });
  }

  function handle(event, animate) {
    if (!event || typeof event !== "object") return;
    if (event.type === "topology") {
      applyTopology(event);
      return;
    }
    if (!state.topology) return;
    if (event.time_ms && state.mode !== "live") state.clockMs = event.time_ms;
    if (event.key) {
      if (state.keys.has(event.key)) return;
      state.keys.add(event.key);
      if (state.keys.size > 8000) state.keys = new Set([...state.keys].slice(-4000));
    }
    state.eventCount += 1;
    const node = state.nodes.get(event.node);
    if (node && event.type !== "health") node.lastSeen = event.time_ms || now();
    const live = animate && !event.replayed;
    if (event.kind && typeof event.kind === "string") {
      event.kind = event.kind.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
      if (event.type === "vote" && event.kind === "proposal") event.type = "proposal_sent";
    }
    switch (event.type) {
      case "status":
        if (!node) return;
        node.hasStatus = true;
        node.lastSeen = now();
        node.blockHeight = event.height ?? node.blockHeight;
        node.round = event.round ?? node.round;
        node.cut = event.cut || [];
        node.slow = event.slow || {};
        node.mempool = event.mempool || 0;
        if (node.health !== "down" || state.mode !== "live") node.health = "up";
        break;
      case "health":
        if (!node) return;
        if (node.health !== event.health && !(node.health === "unknown" && event.health === "up")) {
          tell(event, `health:${event.node}:${event.health}:${event.time_ms}`);
        }
        node.health = event.health;
        if (event.health === "up") node.lastSeen = now();
        break;
      case "commit":
        if (node) {
          node.blockHeight = Math.max(node.blockHeight, event.height);
          node.round = 0;
          if (node.health !== "down") node.health = "up";
          if (live) flash(node, "commit");
        }
        if (event.transactions) tell(event, `commit:${event.height}`);
        else tellHeartbeat(event);
        break;
      case "proposal":
        tell(event, `proposal:${event.height}:${event.round}`);
        break;
      case "proposal_sent":
        if (node && live) broadcastFrom(node, "proposal");
        break;
      case "vote":
        if (!node) return;
        if (event.height === node.blockHeight + 1) node.round = event.round || 0;
        if (live) voteFrom(node, event);
        break;
      case "round_change":
        if (node) {
          node.round = event.round ?? node.round;
          if (live) flash(node, "round-change");
        }
        tell({ ...event, height: event.height ?? (node ? node.blockHeight + 1 : "?") },
          `round:${event.height ?? ""}:${event.round}`);
        break;
      case "record_published":
        publishMark(event, live);
        tell(event);
        break;
      case "grant":
        state.grants.set(`${event.enterprise}|${event.querier_city}`, event.height);
        if (live) grantArc(event);
        tell(event);
        break;
      case "query":
        queryArc(event, live);
        tell(event);
        break;
      case "audit_anchor":
        if (live) anchorMark(event);
        tell(event);
        break;
      case "dispute":
        if (live) disputeMark(event);
        tell(event);
        break;
      default:
        tell(event);
    }
    scheduleRender();
  }

  // State to DOM -----------------------------------------------------------------------------

  let renderQueued = false;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => { renderQueued = false; render(); });
  }

  function healthOf(node) {
    if (node.health === "down") return "down";
    if (node.hasStatus && state.mode === "live" && now() - node.lastSeen > STALE_MS) return "down";
    if (node.health === "unknown" && !node.hasStatus && node.blockHeight === 0) return "unknown";
    if (node.blockHeight < state.maxHeight - BEHIND_BLOCKS + 1) return "behind";
    return "up";
  }

  function render() {
    if (!state.topology) return;
    let maxHeight = 0;
    for (const node of state.nodes.values()) {
      if (node.health !== "down") maxHeight = Math.max(maxHeight, node.blockHeight);
    }
    state.maxHeight = maxHeight;
    const atTop = [...state.nodes.values()].filter((n) => n.blockHeight === maxHeight && n.health !== "down");
    state.round = atTop.length ? Math.max(...atTop.map((n) => n.round || 0)) : 0;
    const proposer = state.rotation.length
      ? state.rotation[(maxHeight + 1 + state.round) % state.rotation.length] : null;
    let up = 0;
    for (const node of state.nodes.values()) {
      const health = healthOf(node);
      if (health === "up" || health === "behind") up += 1;
      const role = node.id === proposer ? "proposer" : "validator";
      const group = node.group;
      if (group.dataset.health !== health) group.dataset.health = health;
      if (group.dataset.role !== role) group.dataset.role = role;
      const height = String(node.blockHeight);
      if (group.dataset.height !== height) {
        group.dataset.height = height;
      }
      const short = node.blockHeight % 1000;
      node.height.textContent = health === "down" ? "" : String(short);
      node.title.textContent = `${node.id} · height ${node.blockHeight} · round ${node.round} · ` +
        `${health}${role === "proposer" ? " · proposer" : ""} · mempool ${node.mempool}`;
    }
    for (const city of state.cities.values()) {
      city.group.dataset.records = String(city.records);
      const badge = city.records || city.queries
        ? `${city.records}|${city.queries}` : "";
      if (city.badge.dataset.text !== badge) {
        city.badge.dataset.text = badge;
        city.badge.replaceChildren();
        if (badge) {
          el("tspan", { class: "zh" }, city.badge).textContent =
            `记录 ${city.records} · 查询 ${city.queries}`;
          el("tspan", { class: "en" }, city.badge).textContent =
            `records ${city.records} · queries ${city.queries}`;
        }
      }
    }
    $("#max-height").textContent = String(maxHeight);
    $("#round").textContent = String(state.round);
    $("#proposer").textContent = proposer || "—";
    $("#nodes-up").textContent = `${up}/${state.nodes.size}`;
    drawLinks();
    updateNodeTable(proposer);
  }

  function drawLinks() {
    const pairs = new Map();
    for (const node of state.nodes.values()) {
      if (healthOf(node) === "down") continue;
      for (const peer of node.cut) addLink(pairs, node, peer, "cut", 0);
      for (const [peer, ms] of Object.entries(node.slow)) addLink(pairs, node, peer, "slow", ms);
    }
    const signature = JSON.stringify([...pairs.entries()]);
    if (layers.links.dataset.signature === signature) return;
    layers.links.dataset.signature = signature;
    layers.links.replaceChildren();
    for (const link of pairs.values()) {
      const a = state.cities.get(link.a), b = state.cities.get(link.b);
      if (!a || !b) continue;
      el("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: `link link-${link.kind}`,
        "data-from": link.a, "data-to": link.b }, layers.links);
      if (link.kind === "slow") {
        const text = el("text", { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 4, class: "link-label" },
          layers.links);
        text.textContent = `+${Math.round(link.ms)} ms`;
      }
    }
  }

  function addLink(pairs, node, peerId, kind, ms) {
    const peer = state.nodes.get(peerId);
    if (!peer) return;
    const [a, b] = [node.city, peer.city].sort();
    const key = `${kind}:${a}:${b}`;
    if (!pairs.has(key)) pairs.set(key, { a, b, kind, ms });
  }

  // Animation --------------------------------------------------------------------------------

  function particle(from, to, kind, durationMs) {
    if (document.hidden || state.particles.length >= MAX_PARTICLES) return;
    const dot = el("circle", { r: kind === "proposal" ? 4 : 2.6, class: `particle particle-${kind}`,
      cx: from.x, cy: from.y }, layers.particles);
    state.particles.push({ dot, from, to, start: performance.now(), duration: durationMs });
    if (state.particles.length === 1) requestAnimationFrame(stepParticles);
  }

  function stepParticles(time) {
    state.particles = state.particles.filter((p) => {
      const t = Math.min(1, (time - p.start) / p.duration);
      const eased = t < 0.5 ? 2 * t * t : 1 - (-2 * t + 2) ** 2 / 2;
      p.dot.setAttribute("cx", p.from.x + (p.to.x - p.from.x) * eased);
      p.dot.setAttribute("cy", p.from.y + (p.to.y - p.from.y) * eased);
      if (t >= 1) p.dot.remove();
      return t < 1;
    });
    if (state.particles.length) requestAnimationFrame(stepParticles);
  }

  function broadcastFrom(node, kind) {
    for (const other of state.nodes.values()) {
      if (other !== node && healthOf(other) !== "down") particle(node, other, kind, 700);
    }
    flash(node, "propose");
  }

  function voteFrom(node, event) {
    const proposerId = state.rotation[(event.height + event.round) % state.rotation.length];
    const target = state.nodes.get(proposerId);
    if (event.kind === "round_change") {
      flash(node, "round-change");
      return;
    }
    if (target && target !== node) particle(node, target, event.kind || "prepare", 550);
  }

  function flash(node, kind) {
    const ring = el("circle", { r: 9, class: `flash flash-${kind}`,
      cx: node.x, cy: node.y }, layers.marks);
    setTimeout(() => ring.remove(), 900);
  }

  function curve(from, to, lift) {
    const mx = (from.x + to.x) / 2, my = (from.y + to.y) / 2;
    const dx = to.x - from.x, dy = to.y - from.y;
    const length = Math.hypot(dx, dy) || 1;
    const bend = Math.min(90, length * lift);
    const cx = mx + (dy / length) * bend, cy = my - (dx / length) * bend;
    return `M${from.x.toFixed(1)},${from.y.toFixed(1)}Q${cx.toFixed(1)},${cy.toFixed(1)} ` +
      `${to.x.toFixed(1)},${to.y.toFixed(1)}`;
  }

  function fadeLater(element, lifetimeMs) {
    if (state.mode === "static") return; // a still picture keeps what it shows
    setTimeout(() => element.classList.add("fading"), lifetimeMs - 1500);
    setTimeout(() => element.remove(), lifetimeMs);
  }

  function queryArc(event, live) {
    const from = state.cities.get(event.from_city);
    const targets = event.origin_cities && event.origin_cities.length
      ? event.origin_cities : [event.to_city];
    for (const target of targets) {
      const to = state.cities.get(target);
      if (to) to.queries += 1;
      if (!from || !to) continue;
      const d = from === to
        ? `M${from.x - 8},${from.y - 10}c-30,-50 46,-50 16,0`
        : curve(from, to, 0.35);
      const verified = event.verified !== false;
      const arc = el("path", { d, class: `arc query${verified ? "" : " unverified"}`,
        "data-from": event.from_city, "data-to": target, "data-enterprise": event.enterprise || "",
        "data-verified": String(verified),
        "marker-end": verified ? "url(#arrow)" : "url(#arrow-unverified)" }, layers.arcs);
      if (!live) arc.classList.add("static");
      fadeLater(arc, ARC_LIFETIME_MS);
    }
  }

  function grantArc(event) {
    const from = state.cities.get(event.enterprise_city), to = state.cities.get(event.querier_city);
    if (!from || !to || from === to) return;
    const arc = el("path", { d: curve(from, to, -0.25), class: "arc grant",
      "data-from": event.enterprise_city, "data-to": event.querier_city }, layers.arcs);
    fadeLater(arc, ARC_LIFETIME_MS / 2);
  }

  function publishMark(event, live) {
    const city = state.cities.get(event.origin_city || event.enterprise_city);
    if (!city) return;
    city.records += 1;
    if (!live) return;
    const mark = el("g", { class: "publish-mark", "data-city": city.id,
      transform: `translate(${city.x + 14},${city.y - 22})` }, layers.marks);
    el("rect", { x: -6, y: -8, width: 12, height: 15, rx: 1.5 }, mark);
    el("path", { d: "M-3,-3h6M-3,0h6M-3,3h4" }, mark);
    fadeLater(mark, MARK_LIFETIME_MS);
  }

  function anchorMark(event) {
    const node = state.nodes.get(event.audit_node) || state.nodes.get(event.node);
    if (!node) return;
    const mark = el("text", { x: node.x + 10, y: node.y - 10, class: "anchor-mark" }, layers.marks);
    mark.textContent = "⚓";
    fadeLater(mark, MARK_LIFETIME_MS);
  }

  function disputeMark(event) {
    const city = state.cities.get(event.origin_city || event.enterprise_city);
    if (!city) return;
    const mark = el("text", { x: city.x - 24, y: city.y - 18, class: "dispute-mark" }, layers.marks);
    mark.textContent = "⚠";
    fadeLater(mark, MARK_LIFETIME_MS);
  }

  // Node table --------------------------------------------------------------------------------

  function buildNodeTable() {
    const body = $("#node-table tbody");
    body.replaceChildren();
    for (const node of state.nodes.values()) {
      const row = document.createElement("tr");
      row.dataset.node = node.id;
      row.innerHTML = "<td></td><td></td><td></td><td></td><td></td>";
      row.cells[0].textContent = node.id;
      body.appendChild(row);
    }
  }

  function updateNodeTable(proposer) {
    for (const row of document.querySelectorAll("#node-table tbody tr")) {
      const node = state.nodes.get(row.dataset.node);
      if (!node) continue;
      const health = healthOf(node);
      row.dataset.health = health;
      row.cells[1].textContent = String(node.blockHeight);
      row.cells[2].textContent = String(node.round);
      row.cells[3].textContent = { up: "在线 up", down: "离线 down", behind: "落后 behind",
        unknown: "…" }[health];
      row.cells[4].textContent = node.id === proposer ? "提议者 proposer" : "验证者 validator";
    }
  }

  // Controls ----------------------------------------------------------------------------------

  function option(select, value, text) {
    const item = document.createElement("option");
    item.value = value;
    item.textContent = text;
    select.appendChild(item);
  }

  function buildControls(topology) {
    const panel = $("#controls");
    panel.hidden = !(topology.control && state.mode === "live");
    if (panel.hidden) return;
    const nodeSelect = $("#control-node");
    nodeSelect.replaceChildren();
    for (const node of topology.nodes) {
      const served = node.node_id === topology.served_by;
      option(nodeSelect, node.node_id, served ? `${node.node_id} (本页 this page)` : node.node_id);
    }
    nodeSelect.value = topology.nodes.find((n) => n.node_id !== topology.served_by)?.node_id || "";
    const groups = $("#partition-cities");
    groups.replaceChildren();
    for (const city of topology.cities) {
      const label = document.createElement("label");
      label.innerHTML = `<input type="checkbox" value="${city.id}"> <span></span>`;
      label.querySelector("span").textContent = `${city.name_zh} ${city.name_en}`;
      groups.appendChild(label);
    }
    for (const id of ["#slow-a", "#slow-b"]) {
      const select = $(id);
      select.replaceChildren();
      for (const city of topology.cities) option(select, city.id, `${city.name_zh} ${city.name_en}`);
    }
    $("#slow-b").value = topology.cities[1]?.id || "";
  }

  // The control token printed by `yrdchain up --control` (…/dashboard#control=TOKEN), kept for
  // this tab; a fragment never reaches the server's logs.
  const controlToken = (() => {
    const match = /(?:^|[#&])control=([^&]+)/.exec(location.hash.slice(1));
    if (match) sessionStorage.setItem("yrdControl", decodeURIComponent(match[1]));
    return sessionStorage.getItem("yrdControl") || "";
  })();

  async function control(path, body) {
    const result = $("#control-result");
    result.textContent = "…";
    try {
      const response = await fetch(`/dashboard/control/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-yrd-control": controlToken },
        body: JSON.stringify(body || {}),
      });
      const answer = await response.json();
      result.textContent = response.ok ? `✓ ${JSON.stringify(answer)}` : `✗ ${answer.message}`;
      result.dataset.ok = String(response.ok);
    } catch (error) {
      result.textContent = `✗ ${error}`;
      result.dataset.ok = "false";
    }
  }

  function wireControls() {
    $("#stop-node").addEventListener("click", () => control(`nodes/${$("#control-node").value}/stop`));
    $("#restart-node").addEventListener("click", () => control(`nodes/${$("#control-node").value}/restart`));
    $("#partition").addEventListener("click", () => {
      const boxes = [...document.querySelectorAll("#partition-cities input")];
      control("partition", { group_a: boxes.filter((b) => b.checked).map((b) => b.value),
        group_b: boxes.filter((b) => !b.checked).map((b) => b.value) });
    });
    $("#heal").addEventListener("click", () => control("heal"));
    $("#slow").addEventListener("click", () => control("slow", { city_a: $("#slow-a").value,
      city_b: $("#slow-b").value, extra_delay_ms: Number($("#slow-ms").value) }));
    $("#burst").addEventListener("click", () => control("burst", { kind: $("#burst-kind").value,
      count: Number($("#burst-count").value) }));
    for (const button of document.querySelectorAll("[data-lang]")) {
      button.addEventListener("click", () => setLanguage(button.dataset.lang));
    }
  }

  function setLanguage(lang) {
    state.lang = lang;
    document.body.dataset.lang = lang;
  }

  // Sources -----------------------------------------------------------------------------------

  function connectLive() {
    state.mode = "live";
    document.body.dataset.mode = "live";
    const source = new EventSource("/dashboard/events");
    source.onopen = () => { $("#connection").dataset.state = "open"; };
    source.onerror = () => { $("#connection").dataset.state = "retrying"; };
    source.onmessage = (message) => {
      try {
        handle(JSON.parse(message.data), true);
      } catch (error) {
        console.warn("dashboard event refused", error);
      }
    };
    setInterval(render, 500);
  }

  function normaliseReplay(document_) {
    if (Array.isArray(document_)) return { events: document_, topology: null, speed: 1 };
    return { events: document_.events || [], topology: document_.topology || null,
      speed: document_.speed || 1 };
  }

  async function startReplay(source) {
    state.mode = "replay";
    document.body.dataset.mode = "replay";
    $("#connection").dataset.state = "replay";
    const replay = normaliseReplay(source);
    const speed = Number(params.get("speed") || replay.speed || 1);
    if (replay.topology) handle({ ...replay.topology, type: "topology" }, false);
    const events = replay.events;
    $("#replay-total").textContent = String(events.length);
    let index = 0;
    const step = () => {
      if (index >= events.length) {
        document.body.dataset.replayDone = "true";
        render();
        return;
      }
      const event = events[index];
      handle(event, true);
      index += 1;
      $("#replay-position").textContent = String(index);
      const next = events[index];
      const gap = next && event.time_ms && next.time_ms
        ? Math.min(MAX_REPLAY_GAP_MS, Math.max(0, (next.time_ms - event.time_ms) / speed)) : 0;
      setTimeout(step, gap);
    };
    step();
  }

  async function showStill(source) {
    state.mode = "static";
    document.body.dataset.mode = "static";
    $("#connection").dataset.state = "static";
    const replay = normaliseReplay(source);
    if (replay.topology) handle({ ...replay.topology, type: "topology" }, false);
    for (const event of replay.events) handle(event, false);
    $("#replay-total").textContent = String(replay.events.length);
    render();
    await document.fonts.ready;
    document.body.dataset.ready = "true";
  }

  async function fetchJson(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  async function main() {
    setLanguage(state.lang);
    drawBase();
    wireControls();
    if (params.has("static")) {
      try {
        const source = window.YRD_REPLAY
          || await fetchJson(params.get("replay") || "/dashboard/snapshot");
        await showStill(source);
      } catch (error) {
        $("#connection").dataset.state = "retrying";
        tell({ type: "snapshot_failed", reason: String(error) });
        document.body.dataset.ready = "error";
      }
    } else if (window.YRD_REPLAY) {
      await startReplay(window.YRD_REPLAY);
    } else if (params.get("replay")) {
      const response = await fetch(params.get("replay"));
      await startReplay(await response.json());
    } else {
      connectLive();
    }
  }

  main();
})();
