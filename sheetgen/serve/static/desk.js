// sheetgen serve: the desk page (/desk) for provider staff. Every call goes to /api/v1 with the
// token (kept for this tab only, in sessionStorage); data is shown with textContent only.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const STATUS = {
    invalid: "数据有误", ready: "待打印", printed: "已打印", received: "部分原件已收回",
    complete: "已完成",
  };
  const TYPES = {
    xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    csv: "text/csv", json: "application/json", jsonl: "application/x-ndjson",
    pdf: "application/pdf", png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg",
    tif: "image/tiff", tiff: "image/tiff",
  };
  const state = { token: sessionStorage.getItem("sheetgen-desk-token"), page: 1, pages: 1,
                  selected: new Set() };

  const suffix = (name) => (name.split(".").pop() || "").toLowerCase();
  const el = (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  };

  class Unauthorized extends Error {}

  async function api(path, options = {}) {
    const headers = Object.assign({}, options.headers || {});
    if (state.token) headers.Authorization = "Bearer " + state.token;
    const response = await fetch("/api/v1" + path, Object.assign({}, options, { headers }));
    if (response.status === 401) {
      $("token-box").hidden = false;
      $("token-problem").textContent = "令牌缺少或不正确，请重新输入。";
      throw new Unauthorized();
    }
    return response;
  }

  async function problemText(response) {
    try {
      const body = await response.json();
      return (body.problems || []).map((p) => p.message).join("；") || "HTTP " + response.status;
    } catch (err) {
      return "HTTP " + response.status;
    }
  }

  function download(blob, name) {
    const url = URL.createObjectURL(blob);
    const link = el("a");
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // --- 1. a spreadsheet in: a batch job, its progress, the rows with errors ---------------

  async function uploadSheet() {
    const file = $("sheet-file").files[0];
    const result = $("job-result");
    result.replaceChildren();
    if (!file) { result.append(el("p", "请先选择一个文件。", "problem")); return; }
    const type = TYPES[suffix(file.name)];
    if (!type) { result.append(el("p", "只能上传 .xlsx、.csv、.json 或 .jsonl 文件。", "problem")); return; }
    $("sheet-upload").disabled = true;
    try {
      const response = await api("/batches?name=" + encodeURIComponent(file.name),
                                 { method: "POST", headers: { "Content-Type": type }, body: file });
      if (response.status !== 202) { result.append(el("p", await problemText(response), "problem")); return; }
      const job = await response.json();
      $("job").hidden = false;
      const status = await follow(job.url);
      await showJob(job.url, status, file.name);
      await loadRecords();
    } catch (err) {
      if (!(err instanceof Unauthorized)) result.append(el("p", "上传失败：" + err.message, "problem"));
    } finally {
      $("sheet-upload").disabled = false;
    }
  }

  async function follow(url) {
    for (;;) {
      const status = await (await api(url.replace("/api/v1", ""))).json();
      const total = status.total || 0;
      $("job-progress").max = Math.max(total, 1);
      $("job-progress").value = status.done;
      $("job-text").textContent = total ? `已处理 ${status.done} / ${total} 位申请人，${status.failed} 位有错误`
                                        : "正在读取表格……";
      if (status.status === "done" || status.status === "failed") return status;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  async function showJob(url, status, name) {
    const result = $("job-result");
    if (status.status === "failed") {
      result.append(el("p", "处理失败：" + (status.error || "未知原因"), "problem"));
      return;
    }
    const path = url.replace("/api/v1", "");
    const manifest = await (await api(path + "/manifest")).json();
    const ok = manifest.summary.ok;
    result.append(el("p", `${name}：${manifest.summary.total} 位申请人，${ok} 位无误，${status.failed} 位有错误。`));
    const failed = manifest.records.filter((r) => !r.ok);
    if (!failed.length) return;
    const list = el("ul", undefined, "row-problems");
    for (const record of failed) {
      for (const problem of record.errors) {
        const where = [problem.row ? `第 ${problem.row} 行` : (record.rows && record.rows.length ? `第 ${record.rows.join("、")} 行` : record.source),
                       problem.column || ""].filter(Boolean).join("，");
        list.append(el("li", `${where}：${problem.message}`));
      }
    }
    result.append(list);
    const button = el("button", "下载有错误的行（改正后再次上传）", "secondary");
    button.type = "button";
    button.id = "download-failed";
    button.addEventListener("click", async () => {
      const response = await api(path + "/failed?format=xlsx");
      if (response.ok) download(await response.blob(), "failed.xlsx");
    });
    result.append(button);
  }

  // --- 2. the register: records, filters, printing, export ----------------------------------

  async function loadRecords() {
    const query = new URLSearchParams({ page: String(state.page), per_page: "50" });
    if ($("filter-status").value) query.set("status", $("filter-status").value);
    if ($("filter-province").value.trim()) query.set("province", $("filter-province").value.trim());
    if ($("filter-q").value.trim()) query.set("q", $("filter-q").value.trim());
    const response = await api("/records?" + query);
    if (!response.ok) { $("records-count").textContent = await problemText(response); return; }
    const listing = await response.json();
    $("token-box").hidden = true;
    $("token-problem").textContent = "";
    const body = $("records").tBodies[0];
    body.replaceChildren();
    for (const record of listing.records) {
      const row = el("tr");
      row.dataset.ref = record.ref;
      const pick = el("input");
      pick.type = "checkbox";
      pick.checked = state.selected.has(record.ref);
      pick.setAttribute("aria-label", "选择 " + record.ref);
      pick.addEventListener("change", () => {
        if (pick.checked) state.selected.add(record.ref); else state.selected.delete(record.ref);
      });
      const cell = el("td");
      cell.append(pick);
      row.append(cell, el("td", record.ref), el("td", record.name || ""), el("td", record.province || ""),
                 el("td", STATUS[record.status] || record.status, "status status-" + record.status),
                 el("td", record.why || ""));
      body.append(row);
    }
    state.pages = Math.max(1, Math.ceil(listing.total / listing.per_page));
    $("records-count").textContent = `共 ${listing.total} 位申请人，第 ${listing.page} / ${state.pages} 页`;
    $("page-prev").disabled = state.page <= 1;
    $("page-next").disabled = state.page >= state.pages;
  }

  async function printBundle() {
    const refs = [...state.selected];
    const options = { method: "POST" };
    if (refs.length) {
      options.headers = { "Content-Type": "application/json" };
      options.body = JSON.stringify({ refs });
    }
    const response = await api("/print", options);
    if (!response.ok) { $("print-status").textContent = await problemText(response); return; }
    download(await response.blob(), "print.pdf");
    $("print-status").textContent = `已生成 ${response.headers.get("X-Sheetgen-Records")} 位申请人的打印文件，已标记为已打印。`;
    state.selected.clear();
    await loadRecords();
  }

  async function exportRegister() {
    const response = await api("/register?format=xlsx");
    if (response.ok) download(await response.blob(), "register.xlsx");
  }

  // --- 3. scans back ------------------------------------------------------------------------

  async function uploadScans() {
    const result = $("scan-result");
    result.replaceChildren();
    const files = [...$("scan-files").files];
    if (!files.length) { result.append(el("p", "请先选择扫描件。", "problem")); return; }
    $("scan-upload").disabled = true;
    try {
      for (const file of files) {
        const type = TYPES[suffix(file.name)];
        if (!type || !type.match(/pdf|image/)) { result.append(el("p", `${file.name}：不是 PDF 或图片`, "problem")); continue; }
        const response = await api("/receipts?name=" + encodeURIComponent(file.name),
                                   { method: "POST", headers: { "Content-Type": type }, body: file });
        if (!response.ok) { result.append(el("p", `${file.name}：${await problemText(response)}`, "problem")); continue; }
        const receipt = await response.json();
        const s = receipt.summary;
        result.append(el("p", `${file.name}：${s.pages} 页，${s.matched} 页已对应到申请人，${s.pages_with_problems} 页有问题。`));
        const list = el("ul");
        for (const [ref, record] of Object.entries(receipt.records)) list.append(el("li", `${ref}：${STATUS[record.status] || record.status}`));
        for (const page of receipt.pages) {
          for (const problem of page.problems) list.append(el("li", `第 ${page.page || 1} 页：${problem.message}`, "problem"));
        }
        result.append(list);
      }
      await loadRecords();
    } catch (err) {
      if (!(err instanceof Unauthorized)) result.append(el("p", "上传失败：" + err.message, "problem"));
    } finally {
      $("scan-upload").disabled = false;
    }
  }

  // --- wiring -----------------------------------------------------------------------------

  const guard = (action) => () => action().catch((err) => {
    if (!(err instanceof Unauthorized)) $("print-status").textContent = "出错了：" + err.message;
  });

  document.addEventListener("DOMContentLoaded", () => {
    $("token-save").addEventListener("click", () => {
      state.token = $("token").value.trim() || null;
      if (state.token) sessionStorage.setItem("sheetgen-desk-token", state.token);
      guard(loadRecords)();
    });
    $("sheet-upload").addEventListener("click", guard(uploadSheet));
    $("filter-apply").addEventListener("click", () => { state.page = 1; guard(loadRecords)(); });
    $("page-prev").addEventListener("click", () => { state.page -= 1; guard(loadRecords)(); });
    $("page-next").addEventListener("click", () => { state.page += 1; guard(loadRecords)(); });
    $("select-all").addEventListener("change", () => {
      for (const box of $("records").tBodies[0].querySelectorAll("input[type=checkbox]")) {
        box.checked = $("select-all").checked;
        box.dispatchEvent(new Event("change"));
      }
    });
    $("print").addEventListener("click", guard(printBundle));
    $("export").addEventListener("click", guard(exportRegister));
    $("scan-upload").addEventListener("click", guard(uploadScans));
    if (state.token) guard(loadRecords)();
  });
})();
