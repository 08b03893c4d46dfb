// sheetgen serve: the form. Every field and choice comes from GET /api/v1/form (generated from
// the model's JSON Schema); every check is POST /api/v1/check (the CLI's validator), so this
// script knows nothing of the data rules. Values are only ever set as text (textContent,
// .value), never parsed as HTML. A draft is kept in this browser's localStorage (never the
// filing password) until the applicant discards it; it can also be saved and opened as the
// JSON file `sheetgen check` reads.
"use strict";

(() => {
  const state = {
    spec: null,
    facts: null,        // GET /api/v1/rules/{province} of the chosen province
    factsFor: null,
    token: null,
    touched: new Set(),
    showAll: false,
    timer: null,
    checkSeq: 0,
    lastProblems: [],
    retry: null,
    linked: [],         // per website: its manager is the host's principal (同主体负责人)
    draftTimer: null,
  };
  const DRAFT_KEY = "sheetgen.form.draft.v1";
  const VARIANTS = {public: "公共版本", guangdong: "广东版本"};
  const isWarning = (problem) => problem.severity === "warning";  // missing severity: an error
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  class AuthNeeded extends Error {}

  async function api(method, path, body) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (state.token) headers.Authorization = "Bearer " + state.token;
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit",
    });
    if (response.status === 401) {
      $("token-box").hidden = false;
      throw new AuthNeeded();
    }
    return response;
  }

  function status(text, bad) {
    const node = $("status");
    node.textContent = text || "";
    node.className = bad ? "problem" : "";
  }

  // --- paths ---------------------------------------------------------------------------------

  const join = (prefix, key) => (prefix ? prefix + "." + key : key);

  // "websites[0].domains[1].name" → ["websites", 0, "domains", 1, "name"]
  const tokens = (path) => (path.match(/[^.[\]]+/g) || []).map((t) => (/^\d+$/.test(t) ? Number(t) : t));

  function getPath(object, path) {
    let current = object;
    for (const part of tokens(path)) {
      if (current === null || typeof current !== "object") return undefined;
      current = current[part];
    }
    return current;
  }

  function setPath(object, path, value) {
    const parts = tokens(path);
    let current = object;
    parts.slice(0, -1).forEach((part, i) => {
      if (typeof current[part] !== "object" || current[part] === null) {
        current[part] = typeof parts[i + 1] === "number" ? [] : {};
      }
      current = current[part];
    });
    current[parts[parts.length - 1]] = value;
  }

  // --- context: what decides which parts show ------------------------------------------------

  function natureOf(data) {
    const code = getPath(data, "host.nature") || "personal";
    return state.spec.choices.nature.find((n) => n.value === code) || state.spec.choices.nature[0];
  }

  function context(data) {
    const unit = natureOf(data).unit;
    return {
      unit,
      personal: !unit,
      registrar: Boolean(state.facts && state.facts.registrar_required),
      nature: natureOf(data).value,
      filingType: getPath(data, "filing_type") || "new_filing",
    };
  }

  function currentContext() {
    const nature = control("host.nature");
    const filing = control("filing_type");
    return context({host: {nature: nature ? nature.value : "personal"},
      filing_type: filing ? filing.value : "new_filing"});
  }

  function shows(field, ctx) {
    if (field.filing_types && !field.filing_types.includes(ctx.filingType)) return false;
    if (field.show_when === "unit") return ctx.unit;
    if (field.show_when === "registrar") return ctx.registrar;
    return true;
  }

  // --- building the form from the spec -------------------------------------------------------

  function choicesFor(field, ctx) {
    const all = state.spec.choices[field.choices];
    return Array.isArray(all) ? all : all[ctx.nature] || [];
  }

  function input(field, path, value, ctx) {
    const id = "f-" + path.replace(/[^A-Za-z0-9]/g, "-");
    const wrap = el("div", {className: "field " + field.kind + (field.required ? " required" : "")});
    const error = el("div", {className: "error", "data-for": path, "aria-live": "polite"});
    const warning = el("div", {className: "warning", "data-warn-for": path, "aria-live": "polite"});
    let control;
    if (field.kind === "select") {
      control = el("select", {id});
      const choices = choicesFor(field, ctx);
      const preset = field.choices === "nature" ? "personal"
        : field.choices === "filing_type" ? "new_filing"
        : field.choices.endsWith("certificate") && choices.length ? choices[0].value : "";
      if (!preset) control.append(el("option", {value: "", text: "请选择"}));
      for (const choice of choices) {
        control.append(el("option", {value: choice.value, text: choice.label}));
      }
      const wanted = value === undefined || value === null ? preset : String(value);
      control.value = choices.some((c) => c.value === wanted) ? wanted : preset;
    } else if (field.kind === "checkbox") {
      control = el("input", {id, type: "checkbox"});
      control.checked = value === undefined ? Boolean(field.default) : Boolean(value);
    } else if (field.kind === "lines") {
      control = el("textarea", {id, rows: 2,
        placeholder: field.placeholder ? "例：" + field.placeholder : ""});
      control.value = Array.isArray(value) ? value.join("\n") : "";
    } else {
      control = el("input", {
        id, type: field.kind === "password" ? "password" : "text",
        maxlength: field.maxlength || false,
        placeholder: field.placeholder ? "例：" + field.placeholder : "",
        autocomplete: field.kind === "password" ? "new-password" : "off",
        spellcheck: "false",
      });
      control.value = value === undefined || value === null ? "" : String(value);
    }
    control.dataset.path = path;
    control.dataset.kind = field.kind;
    control.setAttribute("aria-describedby", id + "-error " + id + "-warning");
    error.id = id + "-error";
    warning.id = id + "-warning";
    const label = el("label", {for: id, text: field.label});
    if (field.kind === "checkbox") wrap.append(control, " ", label, error, warning);
    else wrap.append(label, control, error, warning);
    return wrap;
  }

  function build(fields, prefix, data, ctx, parent, owner) {
    for (const field of fields) {
      const path = join(prefix, field.key);
      if (!shows(field, ctx)) continue;
      const value = getPath(data, field.key);
      if (field.kind === "group") {
        const set = el("fieldset", {"data-group": path}, el("legend", {text: field.label}));
        let note = null;
        if (field.from_host && ctx.personal) {
          note = el("p", {className: "note",
            text: "个人备案：网站负责人即主办者本人，姓名和证件取自上面的主办者信息。"});
          set.append(note);
        }
        if (owner === "host" && field.key === "principal") {
          set.append(el("p", {className: "note", text: "单位的主体负责人（法定代表人等）。"}));
        }
        const site = /^websites\[(\d+)\]\.manager$/.exec(path);
        const linked = Boolean(owner === "websites" && field.from_host && ctx.unit && site
          && state.linked[Number(site[1])]);
        if (owner === "websites" && field.from_host && ctx.unit && site) {
          // While ticked, the manager IS the principal: the fields follow every later edit
          // of the principal's (collect() copies them), and are not typed twice.
          const boxId = "link-" + site[1];
          const box = el("input", {id: boxId, type: "checkbox", "data-link": site[1]});
          box.checked = linked;
          set.append(el("div", {className: "field checkbox"}, box, " ",
            el("label", {for: boxId, text: "同主体负责人（网站负责人即上面的主体负责人）"})));
        }
        if (linked) {
          set.append(el("p", {className: "note",
            text: "网站负责人即主体负责人：姓名、证件和联系方式随上面的主体负责人信息一起修改。"}));
        }
        build(field.fields, path, value || {}, ctx, set, field.from_host && ctx.personal ? "from_host" : field.key);
        if (linked) {
          for (const node of set.querySelectorAll(".field")) node.classList.add("hidden");
          for (const sub of set.querySelectorAll("fieldset")) sub.classList.add("hidden");
          const boxField = set.querySelector("[data-link]");
          if (boxField) boxField.closest(".field").classList.remove("hidden");
        }
        if (field.from_host && ctx.personal) {
          for (const key of Object.keys(field.from_host)) {
            const node = set.querySelector(`[data-path="${CSS.escape(join(path, key))}"]`);
            if (node) node.closest(".field").classList.add("hidden");
          }
          for (const sub of set.querySelectorAll("fieldset")) {
            if (!sub.querySelector(".field:not(.hidden)")) sub.classList.add("hidden");
          }
        }
        parent.append(set);
      } else if (field.kind === "list") {
        const items = Array.isArray(value) && value.length ? value : [{}];
        const box = el("div", {className: "list", "data-list": path, "data-count": items.length});
        items.forEach((item, index) => {
          const itemPath = `${path}[${index}]`;
          const label = field.key === "websites" ? `网站 ${index + 1}` : `${field.label} ${index + 1}`;
          const set = el("fieldset", {"data-group": itemPath}, el("legend", {text: label}));
          const shaped = typeof item === "string" ? {name: item} : item;
          build(field.fields, itemPath, shaped || {}, ctx, set, field.key);
          if (items.length > field.min) {
            const remove = el("button", {type: "button", text: "删除" + (field.key === "websites" ? "此网站" : "")});
            remove.addEventListener("click", () => edit((data) => {
              const list = getPath(data, path);
              if (Array.isArray(list)) list.splice(index, 1);
              if (path === "websites") state.linked.splice(index, 1);
            }));
            set.append(el("div", {className: "item-tools"}, remove));
          }
          box.append(set);
        });
        if (items.length < field.max) {
          const add = el("button", {type: "button", className: "add",
            text: field.key === "websites" ? "添加网站（每个网站一张核验单）" : "添加" + field.label});
          add.addEventListener("click", () => edit((data) => {
            const list = getPath(data, path);
            if (Array.isArray(list)) list.push({});
            else setPath(data, path, [{}, {}]);
          }));
          box.append(add);
        }
        parent.append(box);
      } else {
        parent.append(input(field, path, value, ctx));
      }
    }
  }

  function render(data) {
    const form = $("form");
    const ctx = context(data);
    form.replaceChildren();
    const top = el("fieldset", {"data-group": ""}, el("legend", {text: "备案信息"}));
    const scalars = state.spec.fields.filter((f) => f.kind !== "group" && f.kind !== "list");
    const groups = state.spec.fields.filter((f) => f.kind === "group" || f.kind === "list");
    build(scalars, "", data, ctx, top, "");
    form.append(top);
    for (const field of groups) {
      if (field.kind === "list") {
        const set = el("fieldset", {"data-group": field.key}, el("legend", {text: field.label}));
        build([field], "", data, ctx, set, "");
        form.append(set);
      } else {
        build([field], "", data, ctx, form, "");
      }
    }
    showProblems(state.lastProblems);
    form.dataset.renders = String(Number(form.dataset.renders || 0) + 1);  // for tests to wait on
  }

  // --- reading the form back into one applicant's JSON ---------------------------------------

  function control(path) {
    return $("form").querySelector(`[data-path="${CSS.escape(path)}"]`);
  }

  function collectFields(fields, prefix, ctx, root) {
    const out = {};
    for (const field of fields) {
      if (!shows(field, ctx)) continue;
      const path = join(prefix, field.key);
      if (field.kind === "group") {
        let value = collectFields(field.fields, path, ctx, root);
        const site = /^websites\[(\d+)\]\.manager$/.exec(path);
        if (site && ctx.unit && state.linked[Number(site[1])]) {
          value = JSON.parse(JSON.stringify(getPath(root, "host.principal") || {}));
        }
        if (field.from_host && ctx.personal) {
          for (const [key, source] of Object.entries(field.from_host)) {
            const copied = getPath(root, source);
            if (copied !== undefined) setPath(value, key, copied);
          }
        }
        if (Object.keys(value).length) out[field.key] = value;
      } else if (field.kind === "list") {
        const box = $("form").querySelector(`[data-list="${CSS.escape(path)}"]`);
        const count = box ? Number(box.dataset.count) : 0;
        const items = [];
        for (let i = 0; i < count; i += 1) {
          items.push(collectFields(field.fields, `${path}[${i}]`, ctx, root));
        }
        if (items.some((item) => Object.keys(item).length)) out[field.key] = items;
      } else {
        const node = control(path);
        if (!node) continue;
        if (field.kind === "checkbox") {
          if (node.checked !== Boolean(field.default)) out[field.key] = node.checked;
        } else if (field.kind === "lines") {
          const lines = node.value.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
          if (lines.length) out[field.key] = lines;
        } else if (node.value.trim()) {
          out[field.key] = node.value.trim();
        }
      }
      if (prefix === "") root[field.key] = out[field.key];
    }
    return out;
  }

  function collect() {
    return collectFields(state.spec.fields, "", currentContext(), {});
  }

  function edit(change) {
    const data = collect();
    change(data);
    render(data);
    scheduleCheck();
  }

  // --- the draft: localStorage and JSON files -------------------------------------------------

  // The record without the filing password: what a draft or a saved file may hold.
  function withoutPassword(data) {
    const copy = JSON.parse(JSON.stringify(data));
    if (copy.access && typeof copy.access === "object") {
      delete copy.access.filing_password;
      if (!Object.keys(copy.access).length) delete copy.access;
    }
    return copy;
  }

  // Nothing typed yet: no text in any box (a drop-down chosen is not typing: 填入示例 uses the
  // province and nature chosen).
  function formIsEmpty() {
    return [...$("form").querySelectorAll("input[type=text], input[type=password], textarea")]
      .every((node) => !node.value.trim());
  }

  function readDraft() {
    try {
      const stored = JSON.parse(window.localStorage.getItem(DRAFT_KEY) || "null");
      return stored && typeof stored.data === "object" && stored.data ? stored : null;
    } catch (err) {
      return null;
    }
  }

  function saveDraft() {
    if (!state.spec || $("draft-box").hidden === false) return;  // a draft not yet resumed
    const data = collect();
    try {
      if (formIsEmpty()) {
        window.localStorage.removeItem(DRAFT_KEY);
        $("draft-saved").textContent = "";
        return;
      }
      window.localStorage.setItem(DRAFT_KEY, JSON.stringify({
        data: withoutPassword(data), linked: state.linked.map(Boolean),
        saved: new Date().toISOString()}));
      $("draft-saved").textContent = "草稿已保存在本浏览器（不含备案密码）。";
    } catch (err) {
      $("draft-saved").textContent = "";  // storage off or full: the form still works
    }
  }

  function scheduleDraft() {
    clearTimeout(state.draftTimer);
    state.draftTimer = setTimeout(saveDraft, 300);
  }

  function offerDraft() {
    const draft = readDraft();
    if (!draft) return;
    const when = new Date(draft.saved);
    const shown = Number.isNaN(when.getTime()) ? "" : "（保存于 " + when.toLocaleString("zh-CN") + "）";
    $("draft-text").textContent = "本浏览器中有一份未完成的草稿" + shown + "。继续填写，还是放弃它重新开始？";
    $("draft-box").hidden = false;
  }

  // Every path that holds a value: what a loaded record shows its problems at.
  function leafPaths(value, prefix, out) {
    if (Array.isArray(value)) value.forEach((v, i) => leafPaths(v, `${prefix}[${i}]`, out));
    else if (value && typeof value === "object") {
      for (const [key, v] of Object.entries(value)) leafPaths(v, join(prefix, key), out);
    } else if (prefix) out.push(prefix);
    return out;
  }

  async function loadRecord(data, linked) {
    state.linked = Array.isArray(linked) ? linked.map(Boolean) : [];
    state.touched = new Set(leafPaths(data, "", []));
    state.showAll = false;
    state.lastProblems = [];
    await loadFacts(typeof data.province === "string" ? data.province : "");
    render(data);
    showHints();
    $("previews").classList.add("stale");
    scheduleCheck();
    scheduleDraft();
  }

  function saveFile() {
    const data = withoutPassword(collect());
    const blob = new Blob([JSON.stringify(data, null, 2) + "\n"], {type: "application/json"});
    const url = URL.createObjectURL(blob);
    const safe = String(data.ref || "applicant").replace(/[^\w.-]+/g, "_").slice(0, 60) || "applicant";
    const link = el("a", {href: url, download: safe + ".json"});
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    status(`已保存 ${safe}.json（不含备案密码；可用 sheetgen check ${safe}.json 检查）`);
  }

  async function openFile(event) {
    const file = event.target.files && event.target.files[0];
    event.target.value = "";
    if (!file) return;
    if (file.size > 1024 * 1024) { status("文件太大（上限 1 MB）/ the file is over 1 MB", true); return; }
    let data;
    try {
      data = JSON.parse(await file.text());
    } catch (err) {
      status(`${file.name} 不是有效的 JSON 文件 / not a JSON file`, true);
      return;
    }
    if (Array.isArray(data) && data.length === 1) data = data[0];
    if (!data || typeof data !== "object" || Array.isArray(data)) {
      status(`${file.name} 须是一个申请人的 JSON 对象 / one applicant's JSON object`, true);
      return;
    }
    if (!formIsEmpty() && !window.confirm("打开文件会替换表单中已填写的内容。确定吗？")) return;
    await loadRecord(data, []);
    status(`已打开 ${file.name}`);
  }

  function clearForm() {
    if (!formIsEmpty() && !window.confirm("清空表单中已填写的全部内容（包括本浏览器中的草稿）？")) return;
    try { window.localStorage.removeItem(DRAFT_KEY); } catch (err) { /* storage off */ }
    state.linked = [];
    state.facts = null;
    state.factsFor = null;
    state.touched = new Set();
    state.showAll = false;
    state.lastProblems = [];
    render({});
    showHints();
    $("previews").replaceChildren();
    $("draft-saved").textContent = "";
    status("");
  }

  // --- problems at their fields ---------------------------------------------------------------

  function fieldFor(path, ctx) {
    const manager = /^websites\[\d+\]\.manager\.(.+)$/.exec(path);
    if (manager && ctx.personal) {
      const fromHost = findManagerSpec();
      if (fromHost && fromHost[manager[1]]) path = fromHost[manager[1]];
    }
    const site = /^websites\[(\d+)\]\.manager(\..+)?$/.exec(path);
    if (site && ctx.unit && state.linked[Number(site[1])]) {
      path = "host.principal" + (site[2] || "");  // the linked manager's values are these
    }
    let current = path;
    while (current) {
      const node = $("form").querySelector(`.error[data-for="${CSS.escape(current)}"]`);
      if (node && !node.closest(".hidden")) return node;
      // A list as a whole ("websites[0].domains: required"): its first item's first field.
      const inside = $("form").querySelector(`.error[data-for^="${CSS.escape(current + "[")}"]`);
      if (inside && !inside.closest(".hidden")) return inside;
      const cut = current.search(/(\.[^.[\]]+|\[\d+\])$/);
      if (cut <= 0) break;
      current = current.slice(0, cut);
    }
    return null;
  }

  function findManagerSpec() {
    const websites = state.spec.fields.find((f) => f.key === "websites");
    const manager = websites && websites.fields.find((f) => f.key === "manager");
    return manager ? manager.from_host : null;
  }

  function showProblems(problems) {
    state.lastProblems = problems;
    const form = $("form");
    for (const node of form.querySelectorAll(".error, .warning")) node.textContent = "";
    for (const node of form.querySelectorAll(".invalid, .warned")) {
      node.classList.remove("invalid", "warned");
    }
    const ctx = currentContext();
    const unplaced = [];
    const shown = {error: new Set(), warning: new Set()};  // distinct (field, message)
    const waiting = new Set();
    for (const problem of problems) {
      const kind = isWarning(problem) ? "warning" : "error";
      const node = fieldFor(problem.path, ctx);
      const path = node ? node.dataset.for : null;
      const key = (path === null ? "?" + problem.path : path) + "\u0000" + problem.message;
      const visible = state.showAll || (path && isTouched(path));
      if (!visible) { if (kind === "error") waiting.add(key); continue; }
      shown[kind].add(key);
      if (!node) { unplaced.push(problem); continue; }
      // A problem of the personal manager's hidden copy of the host's ID lands at the host's
      // field with the same message: shown (and counted) once.
      const target = kind === "error" ? node
        : node.parentElement.querySelector(`.warning[data-warn-for="${CSS.escape(path)}"]`) || node;
      if (!target.textContent.includes(problem.message)) {
        target.textContent += (target.textContent ? "\n" : "") + problem.message;
      }
      node.closest(".field, fieldset").classList.add(kind === "error" ? "invalid" : "warned");
    }
    const summary = $("summary");
    summary.replaceChildren();
    const errors = shown.error.size;
    const warnings = shown.warning.size;
    if (errors && (unplaced.length || state.showAll)) {
      summary.append(el("h2", {text: `还有 ${errors} 个问题需要修改`}));
    }
    if (warnings && (unplaced.length || state.showAll)) {
      summary.append(el("p", {className: "warn",
        text: `${warnings} 项提醒（不影响生成，打印前请核对）。`}));
    }
    if (unplaced.length) {
      const list = el("ul");
      for (const p of unplaced) {
        list.append(el("li", {className: isWarning(p) ? "warn" : "problem",
          text: (p.path ? p.path + "：" : "") + p.message}));
      }
      summary.append(list);
    }
    if (!summary.children.length && waiting.size && !state.showAll) {
      summary.append(el("p", {className: "muted", text: `尚未填写完整（${waiting.size} 项待填或待改）。`}));
    }
  }

  function isTouched(path) {
    for (const touched of state.touched) {
      if (path === touched || path.startsWith(touched + ".") || path.startsWith(touched + "[")) {
        return true;
      }
    }
    return false;
  }

  function scheduleCheck() {
    clearTimeout(state.timer);
    state.timer = setTimeout(check, 350);
  }

  async function check() {
    const seq = ++state.checkSeq;
    const data = collect();
    try {
      const response = await api("POST", "/api/v1/check", data);
      const answer = await response.json();
      if (seq !== state.checkSeq) return null;  // a newer check is under way
      showProblems(answer.problems || []);
      if (!response.ok && response.status !== 422) status(messageOf(answer), true);
      return answer;
    } catch (err) {
      if (!(err instanceof AuthNeeded)) status("无法连接服务器 / cannot reach the server", true);
      else state.retry = check;
      return null;
    }
  }

  function messageOf(answer) {
    const problems = (answer && answer.problems) || [];
    return problems.map((p) => p.message).join("；") || "出错了 / something went wrong";
  }

  // --- the province's rules -------------------------------------------------------------------

  async function loadFacts(province) {
    if (!province) { state.facts = null; state.factsFor = null; return; }
    if (state.factsFor === province) return;
    try {
      const response = await api("GET", "/api/v1/rules/" + encodeURIComponent(province));
      state.facts = response.ok ? await response.json() : null;
      state.factsFor = province;
    } catch (err) {
      if (err instanceof AuthNeeded) state.retry = () => loadFacts(province);
      state.facts = null;
    }
  }

  function showHints() {
    const box = $("hints");
    box.replaceChildren(el("h2", {text: "本省规则"}));
    const facts = state.facts;
    if (!facts) {
      box.append(el("p", {className: "muted", text: "选择备案省份后显示。"}));
      return;
    }
    const nature = control("host.nature");
    const personal = !natureOf({host: {nature: nature ? nature.value : "personal"}}).unit;
    const list = el("ul");
    const item = (key, text, important) => list.append(
      el("li", {"data-hint": key, className: important ? "hint-important" : "", text}));
    item("variant", `${facts.name}使用${facts.variant.label}核验单。`);
    if (personal && facts.fingerprint.personal) {
      item("fingerprint", `${facts.name}个人备案：网站负责人须在核验单签字处的“${facts.fingerprint.label}”按手印。`, true);
    }
    if (!personal) {
      item("seal", `单位备案须签字并加盖${facts.seal.official_seal}（${facts.seal.not_accepted.join("、")}不可）；`
        + `个体工商户没有公章时写“${facts.seal.no_seal_text}”。`);
    }
    if (facts.registrar_required) item("registrar", `${facts.name}备案须写明每个域名的注册商。`);
    if (personal && facts.commitment) {
      item("commitment", "广东个人备案：须在核验单虚线下方手写承诺书（全文印在材料清单上，照抄即可）。", true);
    }
    const sms = facts.sms;
    item("sms", (sms.pilot ? `${facts.name}是短信核验试点省份（${sms.pilot_since} 起）。` : "")
      + `提交后会收到${sms.code_digits}位短信验证码，${sms.valid_hours}小时内有效，`
      + `在 ${sms.portal} 完成核验。`);
    box.append(list);
    // The rules' provenance notes are for maintainers (English); the applicant reads the date.
    box.append(el("p", {className: "source",
      text: `依据：sheetgen 规则数据（各省规定截至 ${facts.as_of}）`}));
  }

  // --- preview and downloads ------------------------------------------------------------------

  function query(format, extra) {
    const params = new URLSearchParams({format, ...(extra || {})});
    return "/api/v1/sheets?" + params.toString();
  }

  async function preview() {
    state.showAll = true;
    status("正在检查…");
    const answer = await check();
    if (!answer) return;
    if (!answer.ok) {
      status("请先修改标红的项目。", true);
      focusFirstError();
      return;
    }
    status("正在生成预览…");
    try {
      const response = await api("POST", query("png", {response: "json"}), collect());
      const result = await response.json();
      if (!response.ok) {
        showProblems(result.problems || []);
        status(messageOf(result), true);
        return;
      }
      const box = $("previews");
      box.replaceChildren();
      box.classList.remove("stale");
      result.files.forEach((file, index) => {
        const img = el("img", {src: `data:${file.media_type};base64,${file.data}`,
          alt: `第 ${index + 1} 页`, "data-page": index + 1});
        box.append(el("figure", {}, img, el("figcaption", {text: `第 ${index + 1} 页，共 ${result.files.length} 页`})));
      });
      const shrunk = (result.report.sheets || []).flatMap((s) => s.fit || [])
        .filter((f) => f.status === "shrunk" || f.status === "continued");
      status(`共 ${result.pages} 页（${variantLabel(result.variant)}核验单）`
        + (shrunk.length ? `；${shrunk.length} 项内容较长，已缩小字号或续写在备注处。` : "。"));
      $("download-pdf").disabled = false;
      $("download-docx").disabled = false;
      // The pages sit below the form: bring them into view (and focus, for keyboards and
      // screen readers) rather than leave only the status line on screen.
      // Once the images have their size: before that the page may be too short to scroll.
      await Promise.all([...box.querySelectorAll("img")].map((img) => img.decode().catch(() => null)));
      box.scrollIntoView({block: "start", behavior: "auto"});
      box.focus({preventScroll: true});
    } catch (err) {
      if (err instanceof AuthNeeded) state.retry = preview;
      else status("无法生成预览 / the preview failed", true);
    }
  }

  function variantLabel(name) {
    if (state.facts && state.facts.variant && state.facts.variant.name === name) {
      return state.facts.variant.label;
    }
    return VARIANTS[name] || name;
  }

  // The first field with an error, in page order: scrolled to the middle and focused, so the
  // applicant can type the fix at once.
  function focusFirstError() {
    const first = $("form").querySelector(".error:not(:empty)");
    if (!first) return;
    const holder = first.closest(".field, fieldset");
    const target = (holder && holder.querySelector("input, select, textarea")) || first;
    target.scrollIntoView({block: "center"});
    if (target !== first) target.focus({preventScroll: true});
  }

  function fileName(response, fallback) {
    const header = response.headers.get("Content-Disposition") || "";
    const utf8 = /filename\*=UTF-8''([^;]+)/i.exec(header);
    if (utf8) return decodeURIComponent(utf8[1]);
    const plain = /filename="([^"]+)"/i.exec(header);
    return plain ? plain[1] : fallback;
  }

  async function download(format) {
    status("正在生成文件…");
    try {
      const response = await api("POST", query(format), collect());
      if (!response.ok) {
        const answer = await response.json();
        showProblems(answer.problems || []);
        status(messageOf(answer), true);
        return;
      }
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const link = el("a", {href: url, download: fileName(response, "sheets." + format)});
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      status(`已下载 ${link.getAttribute("download")}`);
    } catch (err) {
      if (err instanceof AuthNeeded) state.retry = () => download(format);
      else status("下载失败 / the download failed", true);
    }
  }

  async function loadExample() {
    if (!formIsEmpty() && !window.confirm(
      "填入示例会替换表单中已填写的全部内容。确定吗？\n（示例值是虚构的，打印前须换成真实信息。）")) {
      return;
    }
    const province = control("province");
    const nature = control("host.nature");
    const params = new URLSearchParams({province: (province && province.value) || "江西",
      nature: (nature && nature.value) || "personal"});
    try {
      const response = await api("GET", "/api/v1/example?" + params.toString());
      if (!response.ok) return;
      const data = await response.json();
      state.linked = [];
      await loadFacts(data.province);
      state.showAll = true;
      render(data);
      showHints();
      scheduleCheck();
      scheduleDraft();
    } catch (err) {
      if (err instanceof AuthNeeded) state.retry = loadExample;
    }
  }

  // --- events ---------------------------------------------------------------------------------

  async function onChange(event) {
    const target = event.target;
    if (target.dataset && target.dataset.link !== undefined) {
      const data = collect();  // the manager as it is now: kept when unticked
      state.linked[Number(target.dataset.link)] = target.checked;
      render(data);
      scheduleCheck();
      scheduleDraft();
      return;
    }
    if (!target.dataset || !target.dataset.path) return;
    state.touched.add(target.dataset.path);
    $("previews").classList.add("stale");
    scheduleDraft();
    if (["province", "host.nature", "filing_type"].includes(target.dataset.path)) {
      const province = control("province");
      await loadFacts(province ? province.value : "");
      render(collect());
      showHints();
    }
    scheduleCheck();
  }

  function onInput(event) {
    if (!event.target.dataset || !event.target.dataset.path) return;
    $("previews").classList.add("stale");
    scheduleDraft();
    // Live feedback for fields already visited; new ones are checked when left.
    if (isTouched(event.target.dataset.path)) scheduleCheck();
  }

  let started = false;

  async function start() {
    if (started) return;
    try {
      const response = await api("GET", "/api/v1/form");
      state.spec = await response.json();
    } catch (err) {
      if (err instanceof AuthNeeded) state.retry = start;
      else status("无法连接服务器 / cannot reach the server", true);
      return;
    }
    started = true;
    render({});
    const form = $("form");
    form.addEventListener("change", onChange);
    form.addEventListener("input", onInput);
    form.addEventListener("focusout", (event) => {
      if (event.target.dataset && event.target.dataset.path) {
        state.touched.add(event.target.dataset.path);
        scheduleCheck();
      }
    });
    form.addEventListener("submit", (event) => event.preventDefault());
    $("preview").addEventListener("click", preview);
    $("download-pdf").addEventListener("click", () => download("pdf"));
    $("download-docx").addEventListener("click", () => download("docx"));
    $("load-example").addEventListener("click", loadExample);
    $("save-json").addEventListener("click", saveFile);
    $("open-json").addEventListener("change", openFile);
    $("clear-form").addEventListener("click", clearForm);
    $("draft-resume").addEventListener("click", async () => {
      const draft = readDraft();
      $("draft-box").hidden = true;
      if (draft) {
        await loadRecord(draft.data, draft.linked);
        status("已恢复草稿。");
      }
    });
    $("draft-discard").addEventListener("click", () => {
      try { window.localStorage.removeItem(DRAFT_KEY); } catch (err) { /* storage off */ }
      $("draft-box").hidden = true;
      status("草稿已放弃。");
    });
    offerDraft();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("token-save").addEventListener("click", () => {
      state.token = $("token").value.trim() || null;
      $("token-box").hidden = true;
      const retry = state.retry || start;
      state.retry = null;
      retry();
    });
    start();
  });
})();
