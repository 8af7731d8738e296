// The interactive page of a tinygrad_cnn graph: hand-written, no library, nothing downloaded.
// The data (nodes, clusters, edges, backward steps) comes from viz/page.py's page_data, the same
// Description the graphviz drawing renders. The graph is laid out here, layer by layer inside each
// cluster (a cluster is laid out first, then placed as one box in its parent), so that collapsing or
// expanding a cluster simply lays the graph out again.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("graph-data").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const GAP = 18, RANK_GAP = 30, PAD = 10, TITLE = 20;  // pixels between items, layers, inside a cluster
  const nodesById = new Map(data.nodes.map(n => [n.id, n]));
  const clustersById = new Map(data.clusters.map(c => [c.id, c]));
  const collapsed = new Set(data.collapsed);
  const scene = document.getElementById("scene");
  const svg = document.getElementById("canvas");
  let current = 0;  // the backward step shown: 0 = none yet (the forward graph)
  let view = {x: 20, y: 20, k: 1};
  let placed = null;  // item -> {x, y, w, h} in scene coordinates, after the last layout

  // ---- what is visible: a node, or the outermost collapsed cluster around it ("n:<id>", "c:<id>")
  function clusterChain(id) {
    const chain = [];
    for (let c = id; c; c = clustersById.get(c).parent) chain.unshift(c);
    return chain;
  }
  function shownAs(nodeId) {
    const node = nodesById.get(nodeId);
    if (!node) return null;
    for (const c of node.cluster) if (collapsed.has(c)) return "c:" + c;
    return "n:" + nodeId;
  }
  function itemChain(item) {  // the clusters around an item, outermost first (a cluster's ends with itself)
    return item.startsWith("n:") ? nodesById.get(item.slice(2)).cluster : clusterChain(item.slice(2));
  }
  function childOf(item, container) {  // the item or cluster directly inside ``container`` that holds ``item``
    const chain = itemChain(item);
    const k = container === null ? -1 : chain.indexOf(container);
    if (container !== null && k < 0) return null;
    return k + 1 < chain.length ? "c:" + chain[k + 1] : item;
  }
  function visibleGraph() {
    const items = new Set(data.nodes.map(n => shownAs(n.id)));
    const edges = new Map();
    for (const e of data.edges) {
      const s = shownAs(e.source), t = shownAs(e.target);
      if (s === t) continue;
      const key = s + ">" + t;
      const label = s === "n:" + e.source && t === "n:" + e.target ? e.label : null;  // not on a collapsed node
      if (!edges.has(key)) edges.set(key, {source: s, target: t, style: e.style, label});
      else edges.get(key).label = null;  // several tensors between the same two items
    }
    return {items, edges: [...edges.values()]};
  }

  // ---- sizes
  const measure = document.createElement("canvas").getContext("2d");
  function textWidth(text, font) { measure.font = font; return measure.measureText(text).width; }
  function nodeLines(item) {
    if (item.startsWith("c:")) {
      const c = clustersById.get(item.slice(2));
      const inside = data.nodes.filter(n => n.cluster.includes(c.id)).length;
      return ["▸ " + c.title, `${inside} nodes: click to expand`];
    }
    const n = nodesById.get(item.slice(2));
    const name = n.name + (n.inline.length ? " " + n.inline.join(" ") : "");
    const second = [n.shape, n.note].filter(Boolean).join(", ");
    return second ? [name, second] : [name];
  }
  function nodeSize(item) {
    const lines = nodeLines(item);
    const w = Math.max(textWidth(lines[0], "bold 12px Helvetica, Arial, sans-serif"),
                       lines[1] ? textWidth(lines[1], "10px Helvetica, Arial, sans-serif") : 0);
    return {w: Math.ceil(w) + 16, h: lines.length > 1 ? 34 : 22};
  }

  // ---- layout: layers inside each cluster, clusters as boxes in their parent
  function layered(items, edges, box) {
    const succ = new Map(items.map(i => [i, []])), pred = new Map(items.map(i => [i, []]));
    for (const [a, b] of edges) if (!succ.get(a).includes(b)) { succ.get(a).push(b); pred.get(b).push(a); }
    const state = new Map(), post = [];
    function visit(v) {  // depth first; an edge back to a node on the stack is left out of the ranking
      state.set(v, 1);
      for (const w of succ.get(v)) if (!state.has(w)) visit(w);
      state.set(v, 2);
      post.push(v);
    }
    for (const v of items) if (!pred.get(v).length && !state.has(v)) visit(v);
    for (const v of items) if (!state.has(v)) visit(v);
    const topo = post.reverse(), index = new Map(topo.map((v, i) => [v, i]));
    const forward = (a, b) => index.get(a) < index.get(b);
    const rank = new Map();
    for (const v of topo) rank.set(v, Math.max(0, ...pred.get(v).filter(u => forward(u, v)).map(u => rank.get(u) + 1)));
    for (const v of [...topo].reverse()) {  // a source (a parameter) sits just above what reads it
      const after = succ.get(v).filter(w => forward(v, w));
      if (!pred.get(v).some(u => forward(u, v)) && after.length) rank.set(v, Math.min(...after.map(w => rank.get(w))) - 1);
    }
    const layers = [];
    for (const v of topo) (layers[rank.get(v)] = layers[rank.get(v)] || []).push(v);
    const layerList = layers.filter(Boolean);
    const where = () => { const p = new Map(); layerList.forEach(l => l.forEach((v, i) => p.set(v, (i + 0.5) / l.length))); return p; };
    for (let sweep = 0; sweep < 4; sweep++) {  // order each layer by the mean position of its neighbours
      const down = sweep % 2 === 0;
      const list = down ? layerList : [...layerList].reverse();
      for (const layer of list) {
        const p = where();
        const key = v => { const ns = (down ? pred : succ).get(v); return ns.length ? ns.reduce((s, u) => s + p.get(u), 0) / ns.length : p.get(v); };
        const keys = new Map(layer.map(v => [v, key(v)]));
        layer.sort((a, b) => keys.get(a) - keys.get(b));
      }
    }
    const x = new Map();
    for (const layer of layerList) { let right = 0; for (const v of layer) { x.set(v, right); right += box.get(v).w + GAP; } }
    const centre = v => x.get(v) + box.get(v).w / 2;
    for (let pass = 0; pass < 4; pass++) {  // each item toward the middle of its neighbours, without overlaps
      const down = pass % 2 === 0;
      for (const layer of (down ? layerList : [...layerList].reverse())) {
        let right = -Infinity;
        for (const v of layer) {
          const ns = (down ? pred : succ).get(v);
          const wanted = ns.length ? ns.reduce((s, u) => s + centre(u), 0) / ns.length - box.get(v).w / 2 : x.get(v);
          x.set(v, Math.max(wanted, right + GAP));
          right = x.get(v) + box.get(v).w;
        }
      }
    }
    const left = Math.min(...items.map(v => x.get(v)));
    let y = 0, width = 0;
    const at = new Map();
    for (const layer of layerList) {
      const height = Math.max(...layer.map(v => box.get(v).h));
      for (const v of layer) {
        at.set(v, {x: x.get(v) - left, y: y + (height - box.get(v).h) / 2});
        width = Math.max(width, x.get(v) - left + box.get(v).w);
      }
      y += height + RANK_GAP;
    }
    return {at, w: width, h: Math.max(0, y - RANK_GAP)};
  }

  function layout(vis) {
    const box = new Map(), relative = new Map(), inner = new Map();
    function layoutIn(container) {
      const children = [...new Set([...vis.items].map(it => childOf(it, container)).filter(Boolean))];
      for (const child of children) {
        if (vis.items.has(child)) box.set(child, nodeSize(child));
        else {
          const content = layoutIn(child.slice(2));
          const title = textWidth(clustersById.get(child.slice(2)).title, "11px Helvetica, Arial, sans-serif") + 30;
          box.set(child, {w: Math.max(content.w, title) + 2 * PAD, h: content.h + TITLE + PAD});
          inner.set(child, content);
        }
      }
      const local = [];
      for (const e of vis.edges) {
        const a = childOf(e.source, container), b = childOf(e.target, container);
        if (a && b && a !== b) local.push([a, b]);
      }
      const result = layered(children, local, box);
      for (const [item, p] of result.at) relative.set(item, p);
      return result;
    }
    const root = layoutIn(null);
    const absolute = new Map();
    function place(items, ox, oy) {
      for (const item of items) {
        const p = relative.get(item), b = box.get(item);
        absolute.set(item, {x: ox + p.x, y: oy + p.y, w: b.w, h: b.h});
        if (inner.has(item)) place([...inner.get(item).at.keys()], ox + p.x + PAD, oy + p.y + TITLE);
      }
    }
    place([...root.at.keys()], 0, 0);
    return absolute;
  }

  // ---- drawing
  function el(name, attributes, parent) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attributes || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }
  function render() {
    const vis = visibleGraph();
    placed = layout(vis);
    scene.replaceChildren();
    const clusterLayer = el("g", {}, scene), edgeLayer = el("g", {}, scene), nodeLayer = el("g", {}, scene);
    const expanded = [...placed.keys()].filter(it => it.startsWith("c:") && !vis.items.has(it));
    expanded.sort((a, b) => itemChain(a).length - itemChain(b).length);  // outer boxes under inner ones
    for (const item of expanded) {
      const c = clustersById.get(item.slice(2)), p = placed.get(item);
      const g = el("g", {class: "cluster" + (c.module ? " module" : ""), "data-cluster": c.id}, clusterLayer);
      el("rect", {x: p.x, y: p.y, width: p.w, height: p.h, rx: 6}, g);
      el("text", {class: "title", x: p.x + 8, y: p.y + 14}, g).textContent = "▾ " + c.title;
      const hit = el("rect", {class: "title-hit", x: p.x, y: p.y, width: p.w, height: TITLE}, g);
      hit.addEventListener("click", () => { collapsed.add(c.id); render(); });
      hit.addEventListener("mouseenter", () => showCluster(c));
    }
    for (const e of vis.edges) {
      const a = placed.get(e.source), b = placed.get(e.target);
      const x1 = a.x + a.w / 2, y1 = a.y + a.h, x2 = b.x + b.w / 2, y2 = b.y;
      const bend = Math.max(20, Math.abs(y2 - y1) / 2);
      el("path", {class: "edge style-" + e.style, "data-source": e.source, "data-target": e.target,
                  d: `M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 - bend} ${x2},${y2}`, "marker-end": "url(#arrow)"}, edgeLayer);
      if (e.label) el("text", {class: "edge-label", x: (x1 + x2) / 2 + 4, y: (y1 + y2) / 2}, edgeLayer).textContent = e.label;
    }
    for (const item of vis.items) {
      const p = placed.get(item), lines = nodeLines(item);
      const node = item.startsWith("n:") ? nodesById.get(item.slice(2)) : null;
      const role = node ? node.role : "composite";
      const g = el("g", {class: "node role-" + role + (node ? "" : " collapsed"), "data-item": item,
                         transform: `translate(${p.x},${p.y})`}, nodeLayer);
      if (node) g.setAttribute("data-id", node.id); else g.setAttribute("data-cluster", item.slice(2));
      el("rect", {width: p.w, height: p.h, rx: node && ["input", "parameter", "output"].includes(role) ? p.h / 2 : 5,
                  fill: data.colours[role] || "#fff"}, g);
      el("text", {class: "name", x: p.w / 2, y: 15, "text-anchor": "middle"}, g).textContent = lines[0];
      if (lines[1]) el("text", {class: "small", x: p.w / 2, y: 28, "text-anchor": "middle"}, g).textContent = lines[1];
      g.addEventListener("mouseenter", () => node ? showNode(node) : showCluster(clustersById.get(item.slice(2))));
      if (!node) g.addEventListener("click", () => { collapsed.delete(item.slice(2)); render(); });
    }
    applyView();
    showStep();
  }

  // ---- pan and zoom
  function applyView() { scene.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`); }
  function fit(readable) {  // the whole graph in view; ``readable``: never so small that names blur (then its top)
    const items = [...placed.values()];
    const w = Math.max(...items.map(p => p.x + p.w)), h = Math.max(...items.map(p => p.y + p.h));
    const r = svg.getBoundingClientRect();
    view.k = Math.min(1.5, (r.width - 40) / w, (r.height - 40) / h);
    if (readable) view.k = Math.max(view.k, 0.75);
    view.x = (r.width - w * view.k) / 2;
    view.y = 20;
    applyView();
  }
  function inView(item) {
    const p = placed.get(item), r = svg.getBoundingClientRect();
    const x = view.x + p.x * view.k, y = view.y + p.y * view.k;
    return x >= 0 && y >= 0 && x + p.w * view.k <= r.width && y + p.h * view.k <= r.height;
  }
  function centreOn(item, zoom) {
    const p = placed.get(item), r = svg.getBoundingClientRect();
    if (zoom) view.k = Math.max(view.k, 0.8);
    view.x = r.width / 2 - (p.x + p.w / 2) * view.k;
    view.y = r.height / 2 - (p.y + p.h / 2) * view.k;
    applyView();
  }
  svg.addEventListener("wheel", event => {
    event.preventDefault();
    const r = svg.getBoundingClientRect(), mx = event.clientX - r.left, my = event.clientY - r.top;
    const factor = Math.exp(-event.deltaY * 0.0015);
    view.x = mx - (mx - view.x) * factor;
    view.y = my - (my - view.y) * factor;
    view.k *= factor;
    applyView();
  }, {passive: false});
  let drag = null;
  svg.addEventListener("mousedown", event => { drag = {x: event.clientX - view.x, y: event.clientY - view.y}; });
  window.addEventListener("mousemove", event => {
    if (!drag) return;
    document.getElementById("view").classList.add("dragging");
    view.x = event.clientX - drag.x;
    view.y = event.clientY - drag.y;
    applyView();
  });
  window.addEventListener("mouseup", () => { drag = null; document.getElementById("view").classList.remove("dragging"); });

  // ---- the side panel
  function valuesHtml(v) {
    if (!v) return "";
    if (v.summary) return `<div class="summary">${v.shape} ${v.dtype}: ${v.summary}</div>`;
    const rows = v.matrix.map(row => "<tr>" + row.map(x => `<td>${x === null ? "" : x}</td>`).join("") + "</tr>").join("");
    return `<div class="summary">${v.shape} ${v.dtype}</div><table class="values">${rows}</table>`;
  }
  function escape(text) { return String(text).replace(/[&<>"]/g, ch => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[ch])); }
  function showNode(n) {
    let out = `<h3>${escape(n.name)}</h3><div class="label">${escape(n.role)}${n.kind ? ", " + n.kind : ""}</div>`;
    if (n.path) out += `<div class="label">in ${escape(n.path)}</div>`;
    if (n.shape) out += `<div>${escape(n.shape)}${n.dtype ? " " + n.dtype : ""}${n.note ? ", " + escape(n.note) : ""}</div>`;
    if (n.values) out += `<div class="label">values</div>${valuesHtml(n.values)}`;
    if (n.grad) out += `<div class="label">gradient (d loss / d this)</div>${valuesHtml(n.grad)}`;
    document.getElementById("details").innerHTML = out;
  }
  function showCluster(c) {
    const inside = data.nodes.filter(n => n.cluster.includes(c.id));
    const path = clusterChain(c.id).slice(0, -1).map(id => clustersById.get(id).title).join(" › ");
    document.getElementById("details").innerHTML = `<h3>${escape(c.title)}</h3>` +
      `<div class="label">${c.module ? "module call" : "composite op"}${path ? " in " + escape(path) : ""}</div>` +
      `<div>${inside.length} nodes inside: ${[...new Set(inside.map(n => n.name))].slice(0, 12).map(escape).join(", ")}</div>` +
      `<div class="label">${collapsed.has(c.id) ? "click to expand" : "click its title to collapse"}</div>`;
  }

  // ---- the backward pass, step by step
  const slider = document.getElementById("slider");
  slider.max = data.steps.length;
  function nameOf(id) { const n = nodesById.get(id); return n ? n.name : "a constant"; }
  function showStep() {
    scene.querySelectorAll(".lit, .saved, .sent, .grad-in, .grad-out").forEach(e => e.classList.remove("lit", "saved", "sent", "grad-in", "grad-out"));
    slider.value = current;
    const label = document.getElementById("step-label"), info = document.getElementById("step-info");
    if (!data.steps.length) {
      label.textContent = data.freed ? "no backward steps: " + data.freed : "no backward steps";
      info.innerHTML = `<p class="hint">${escape(label.textContent)}</p>`;
      return;
    }
    if (current === 0) {
      label.textContent = `the forward graph; ${data.steps.length} backward steps: press → or ▶`;
      info.innerHTML = `<p class="hint">Step through the backward pass with ▶ or the → key: each step lights ` +
        `<span style="color:#D32F2F">the primitive and the gradient it receives</span>, ` +
        `<span style="color:#1565C0">the saved values it reads</span> and ` +
        `<span style="color:#2E7D32">where it sends gradients</span>.</p>`;
      return;
    }
    const s = data.steps[current - 1], lit = shownAs(s.node);
    const mark = (item, cls) => { const e = item && scene.querySelector(`.node[data-item="${CSS.escape(item)}"]`); if (e) e.classList.add(cls); };
    mark(lit, "lit");
    if (placed.has(lit) && !inView(lit)) centreOn(lit, false);  // follow the steps through a large graph
    scene.querySelectorAll(`.edge[data-source="${CSS.escape(lit)}"]`).forEach(e => e.classList.add("grad-in"));
    for (const r of s.reads) if (shownAs(r.node) !== lit) mark(shownAs(r.node), "saved");
    for (const t of s.sends) {
      const item = shownAs(t.node);
      mark(item, "sent");
      const e = scene.querySelector(`.edge[data-source="${CSS.escape(item)}"][data-target="${CSS.escape(lit)}"]`);
      if (e) e.classList.add("grad-out");
    }
    const where = nodesById.get(s.node).path;
    label.textContent = `step ${current} of ${data.steps.length}: ${s.title}` + (where ? ` in ${where.split(" › ").pop()}` : "");
    let out = `<h3>Step ${current}: ${escape(s.title)}</h3><div class="formula">${escape(s.formula)}</div>` +
      `<div class="label" style="color:#D32F2F">${s.sends.length ? "receives dY" : "the sum it adds into .grad"}</div>${valuesHtml(s.grad)}`;
    for (const r of s.reads) out += `<div class="label" style="color:#1565C0">reads ${escape(r.what)} (saved: ${escape(nameOf(r.node))})</div>${valuesHtml(r.values)}`;
    for (const t of s.sends) out += `<div class="label" style="color:#2E7D32">sends ${escape(t.what)} to ${escape(nameOf(t.node))}</div>${valuesHtml(t.grad)}`;
    info.innerHTML = out;
  }
  function go(step) { current = Math.max(0, Math.min(data.steps.length, step)); showStep(); }
  document.getElementById("first").onclick = () => go(0);
  document.getElementById("prev").onclick = () => go(current - 1);
  document.getElementById("next").onclick = () => go(current + 1);
  document.getElementById("last").onclick = () => go(data.steps.length);
  slider.oninput = () => go(Number(slider.value));
  window.addEventListener("keydown", event => {
    if (event.target.tagName === "INPUT" && event.target.type !== "range") return;
    if (event.key === "ArrowRight") { go(current + 1); event.preventDefault(); }
    if (event.key === "ArrowLeft") { go(current - 1); event.preventDefault(); }
  });

  // ---- the toolbar: find, expand, collapse
  document.getElementById("title").textContent = data.title;
  const names = [...new Set(data.clusters.map(c => c.title).concat(data.nodes.map(n => n.name)))];
  document.getElementById("names").innerHTML = names.map(n => `<option value="${escape(n)}">`).join("");
  function find(query) {
    const q = query.trim().toLowerCase();
    if (!q) return false;
    const match = (text, exact) => exact ? text.toLowerCase() === q : text.toLowerCase().includes(q);
    let item = null;
    for (const exact of [true, false]) {
      const c = data.clusters.find(c => match(c.title, exact) || c.title.toLowerCase().split(" ").slice(1).join(" ") === q);
      const n = data.nodes.find(n => match(n.name, exact));
      if (c) { clusterChain(c.id).forEach(id => collapsed.delete(id)); item = "c:" + c.id; break; }  // opened
      if (n) { n.cluster.forEach(id => collapsed.delete(id)); item = "n:" + n.id; break; }
    }
    if (!item) return false;
    render();
    centreOn(item, true);
    const e = scene.querySelector(`[data-item="${CSS.escape(item)}"], .cluster[data-cluster="${CSS.escape(item.slice(2))}"]`);
    if (e) { e.classList.add("found"); setTimeout(() => e.classList.remove("found"), 2500); }
    if (item.startsWith("n:")) showNode(nodesById.get(item.slice(2))); else showCluster(clustersById.get(item.slice(2)));
    return true;
  }
  document.getElementById("find").addEventListener("change", event => find(event.target.value));
  document.getElementById("find").addEventListener("keydown", event => { if (event.key === "Enter") find(event.target.value); });
  function collapseWhere(test) { collapsed.clear(); data.clusters.filter(test).forEach(c => collapsed.add(c.id)); render(); fit(true); }
  document.getElementById("expand-all").onclick = () => collapseWhere(() => false);
  document.getElementById("collapse-composites").onclick = () =>  // the outermost composite op of each chain
    collapseWhere(c => !c.module && (!c.parent || clustersById.get(c.parent).module));
  const hasModuleInside = c => data.clusters.some(d => d.module && d.parent === c.id);
  document.getElementById("collapse-modules").onclick = () =>  // each module call inside the model (the model
    collapseWhere(c => c.module ? (c.parent ? !clustersById.get(c.parent).parent : !hasModuleInside(c))  // itself
                                : !c.parent);  // where it has none), and each composite op outside the model
  document.getElementById("fit").onclick = () => fit(false);

  // ---- the lecture's conv, animated (frames drawn by viz/animation.py)
  if (data.frames && data.frames.length) {
    const panel = document.getElementById("animation"), frameSlider = document.getElementById("frame-slider");
    let frame = 0, timer = null;
    frameSlider.max = data.frames.length - 1;
    const showFrame = i => {
      frame = (i + data.frames.length) % data.frames.length;
      document.getElementById("frame-box").innerHTML = data.frames[frame].svg;
      document.getElementById("frame-label").textContent = `${frame + 1} / ${data.frames.length}: ${data.frames[frame].title}`;
      document.getElementById("frame-caption").textContent = data.frames[frame].caption;
      frameSlider.value = frame;
    };
    const button = document.getElementById("show-animation");
    button.hidden = false;
    button.onclick = () => { panel.hidden = false; showFrame(frame); };
    document.getElementById("close-animation").onclick = () => { panel.hidden = true; clearInterval(timer); timer = null; };
    document.getElementById("frame-prev").onclick = () => showFrame(frame - 1);
    document.getElementById("frame-next").onclick = () => showFrame(frame + 1);
    frameSlider.oninput = () => showFrame(Number(frameSlider.value));
    document.getElementById("frame-play").onclick = event => {
      if (timer) { clearInterval(timer); timer = null; event.target.textContent = "play"; return; }
      event.target.textContent = "pause";
      timer = setInterval(() => showFrame(frame + 1), 900);
    };
  }

  render();
  fit(true);
})();
