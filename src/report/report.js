"use strict";
(function () {
  const t0 = performance.now();
  // Engines and case ids; each case's details are their own JSON block,
  // parsed when the case is opened.
  const data = JSON.parse(document.getElementById("data").textContent);
  const parsed = new Map();
  function caseData(id) {
    if (!(id in data.cases)) return null;
    if (!parsed.has(id)) parsed.set(id, JSON.parse(document.getElementById("case-" + data.cases[id]).textContent));
    return parsed.get(id);
  }
  const table = document.getElementById("m");
  const detail = document.getElementById("detail");
  const groups = Array.from(table.tBodies);
  const rows = [];
  for (const g of groups) {
    for (const tr of g.rows) {
      if (!tr.classList.contains("row")) continue;
      rows.push({
        el: tr,
        group: g,
        id: tr.dataset.id,
        lid: tr.dataset.id.toLowerCase(),
        tags: tr.dataset.tags ? tr.dataset.tags.split(" ") : [],
        agree: tr.dataset.agree.split(",").map((x) => (x === "" ? -1 : +x)),
        fail: tr.dataset.fail === "1",
      });
    }
  }
  const f = {
    div: document.getElementById("f-div"),
    fail: document.getElementById("f-fail"),
    tag: document.getElementById("f-tag"),
    q: document.getElementById("f-q"),
    engines: Array.from(document.querySelectorAll(".f-eng")),
    fam: document.getElementById("f-fam"),
  };
  let selected = null;

  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    f.div.checked = p.get("div") === "1";
    f.fail.checked = p.get("fail") === "1";
    f.tag.value = p.get("tag") || "";
    f.q.value = p.get("q") || "";
    const eng = p.get("engines");
    const shown = eng ? eng.split(",") : null;
    for (const box of f.engines) box.checked = !shown || shown.includes(box.value);
    selected = p.get("case");
  }

  function writeHash() {
    const p = new URLSearchParams();
    if (f.div.checked) p.set("div", "1");
    if (f.fail.checked) p.set("fail", "1");
    if (f.tag.value) p.set("tag", f.tag.value);
    if (f.q.value) p.set("q", f.q.value);
    if (f.engines.some((b) => !b.checked)) p.set("engines", f.engines.filter((b) => b.checked).map((b) => b.value).join(","));
    if (selected) p.set("case", selected);
    const h = p.toString();
    if (h !== location.hash.slice(1)) history.replaceState(null, "", h ? "#" + h : location.pathname + location.search);
  }

  function apply() {
    const t = performance.now();
    const cols = f.engines.filter((b) => b.checked).map((b) => +b.dataset.col);
    for (const b of f.engines) table.classList.toggle("hide-e" + b.dataset.col, !b.checked);
    // A family's header spans its shown columns; it goes when none is shown.
    for (const h of table.querySelectorAll("th.famh")) {
      const k = f.engines.filter((b) => b.checked && b.dataset.fam === h.dataset.fam).length;
      h.hidden = k === 0;
      h.colSpan = Math.max(k, 1);
    }
    const div = f.div.checked, fail = f.fail.checked, tag = f.tag.value, q = f.q.value.toLowerCase();
    const visible = new Map();
    let shown = 0;
    for (const r of rows) {
      let ok = (!tag || r.tags.includes(tag)) && (!q || r.lid.includes(q)) && (!fail || r.fail);
      if (ok && div) {
        let first = -1, differs = false;
        for (const c of cols) {
          const g = r.agree[c];
          if (g < 0) continue;
          if (first < 0) first = g;
          else if (g !== first) { differs = true; break; }
        }
        ok = differs;
      }
      if (r.el.hidden === ok) r.el.hidden = !ok;
      if (ok) { shown++; visible.set(r.group, (visible.get(r.group) || 0) + 1); }
    }
    for (const g of groups) {
      const n = visible.get(g) || 0;
      g.hidden = n === 0;
      g.querySelector(".gcount").textContent = n + " of " + (g.rows.length - 1) + " cases";
    }
    document.getElementById("count").textContent = shown + " of " + rows.length + " cases shown";
    writeHash();
    void table.offsetHeight; // include the relayout in the timing
    document.body.dataset.filterMs = (performance.now() - t).toFixed(1);
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function show(id) {
    selected = id;
    for (const r of rows) r.el.classList.toggle("sel", r.id === id);
    const c = id && caseData(id);
    if (!c) { detail.hidden = true; writeHash(); return; }
    detail.replaceChildren();
    const close = el("button", { type: "button", style: "float:right" }, "close");
    close.onclick = () => show(null);
    detail.append(close, el("h3", {}, id));
    if (c.summary) detail.append(el("p", {}, c.summary));
    if (c.source) detail.append(el("p", { class: "msg" }, "source: " + c.source));
    if (c.file) {
      const tags = c.tags.length ? " · tags: " + c.tags.join(", ") : "";
      const features = c.features.length ? " · proposals: " + c.features.join(", ") : "";
      detail.append(el("p", { class: "msg" }, "file: " + c.file + tags + features));
    }
    if (c.wat) detail.append(el("pre", {}, c.wat));
    const t = el("table");
    const head = el("tr");
    head.append(el("th", {}, "step"), el("th", {}, "expected"));
    data.engines.forEach((e, i) => { if (c.cells[i]) head.append(el("th", {}, e + " (" + c.cells[i].verdict + ")")); });
    t.append(head);
    const n = Math.max(c.steps.length, ...c.cells.map((x) => (x ? x.steps.length : 0)));
    for (let s = 0; s < n; s++) {
      const tr = el("tr");
      const st = c.steps[s];
      const any = c.cells.find((x) => x && x.steps[s] && x.steps[s][3]);
      tr.append(el("td", {}, (st ? st.step : any ? any.steps[s][3] : "") + (st && st.line ? " (line " + st.line + ")" : "")));
      tr.append(el("td", {}, st ? st.expect + (st.message ? "\n\u201c" + st.message + "\u201d" : "") + (st.claim ? "\nclaim: " + st.claim : "") : ""));
      c.cells.forEach((x) => {
        if (!x) return;
        const v = x.steps[s];
        const td = el("td", { class: v ? (v[2] === 0 ? (x.verdict === "known" ? "v-known" : "v-fail") : "v-pass") : "v-unavailable" });
        if (v) {
          td.append(el("div", {}, c.strings[v[0]]));
          if (v[1] >= 0) td.append(el("div", { class: "msg" }, c.strings[v[1]]));
        } else if (s === 0 && x.reason) td.append(el("div", { class: "msg" }, x.reason));
        tr.append(td);
      });
      t.append(tr);
    }
    detail.append(t);
    const notes = c.cells.map((x, i) => x && x.reason && x.verdict !== "unavailable" ? data.engines[i] + ": " + x.verdict + ": " + x.reason : null).filter(Boolean);
    for (const note of notes) detail.append(el("p", { class: "msg" }, note));
    detail.hidden = false;
    writeHash();
  }

  table.addEventListener("click", (ev) => {
    const toggle = ev.target.closest("button.toggle");
    if (toggle) { toggle.closest("tbody").classList.toggle("collapsed"); return; }
    const tr = ev.target.closest("tr.row");
    if (!tr) return;
    ev.preventDefault();
    show(tr.dataset.id);
    detail.scrollIntoView({ block: "nearest" });
  });
  document.addEventListener("click", (ev) => {
    const a = ev.target.closest("a[href^='#case=']");
    if (a && !table.contains(a)) { ev.preventDefault(); show(decodeURIComponent(a.getAttribute("href").slice(6))); detail.scrollIntoView(); }
  });
  for (const x of [f.div, f.fail, f.tag, ...f.engines]) x.addEventListener("change", apply);
  // The family filter shows one family's columns (or all).
  f.fam.addEventListener("change", () => {
    for (const b of f.engines) b.checked = !f.fam.value || b.dataset.fam === f.fam.value;
    apply();
  });
  f.q.addEventListener("input", apply);
  window.addEventListener("hashchange", () => { readHash(); apply(); show(selected); });
  readHash();
  apply();
  table.style.display = "";
  void table.offsetHeight; // lay the table out now, so the timing below includes it
  if (selected) show(selected);
  // Since navigation start: parsing the page and the table included.
  document.body.dataset.renderMs = performance.now().toFixed(1);
  document.body.dataset.scriptMs = (performance.now() - t0).toFixed(1);
  document.body.dataset.ready = "1";
  // After the first frame is painted: the whole cost of showing the page.
  requestAnimationFrame(() => setTimeout(() => { document.body.dataset.paintedMs = performance.now().toFixed(1); }));
})();
