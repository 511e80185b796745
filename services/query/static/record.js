// One record's page: its metadata in the unified standard's terms, classification and retention, the
// package and its lock, the files with page images (rendered on the server) and players, downloads whose
// SHA-256 the browser checks against the digest recorded at capture, the four-property verdicts per check
// and file, and the preservation history with the fixity checks as one timeline. Everything comes from the
// API (GET /api/v1/records/{case_key}), masked as the key's role requires.
"use strict";

(function () {
  const A = window.Archive;
  const el = A.el;
  const $ = (id) => document.getElementById(id);
  const root = $("record");
  const caseKey = root.dataset.caseKey;
  const EVENT_TYPES = {
    capture: ["采集", "capture"],
    "message digest calculation": ["摘要计算", "message digest calculation"],
    "virus check": ["病毒检查", "virus check"],
    "format identification": ["格式识别", "format identification"],
    validation: ["四性检测", "validation"],
    classification: ["分类与档号", "classification"],
    "information package creation": ["封装", "information package creation"],
    "fixity check": ["固定性检查", "fixity check"],
  };
  const PROPERTIES = ["authenticity", "integrity", "usability", "security"];
  const PREVIEWABLE = /^(application\/pdf|image\/(jpeg|png|tiff|jp2|jpx|gif|bmp))/i;

  A.drawHeader("search");

  function facts(node, rows) {
    node.replaceChildren(
      ...rows.flatMap(([field, value, label]) => [
        el("dt", {}, label || A.term(field)),
        el("dd", { "data-field": field }, value === null || value === undefined || value === "" ? "—" : value),
      ])
    );
  }

  function drawMetadata(r) {
    document.title = `${r.case_title} · 档案 Record`;
    $("record-title").textContent = r.case_title;
    $("record-code").textContent = r.archival_code;
    $("record-retention").textContent = ` · ${A.valueText("retention", r.retention)}`;
    facts($("metadata"), [
      ["case_title", r.case_title],
      ["case_number", r.case_number],
      ["revision", r.revision],
      ["source_platform", r.source_platform],
      ["region_code", r.region_code],
      ["item_code", r.item_code],
      ["item_name", r.item_name],
      ["applicant_name", r.applicant_name],
      ["applicant_type", A.valueText("applicant_type", r.applicant_type)],
      ["applicant_id_type", A.valueText("applicant_id_type", r.applicant_id_type)],
      ["applicant_id_number", el("span", { className: "mono", "data-testid": "applicant-id" }, r.applicant_id_number || "—")],
      ["department_name", r.department_name],
      ["department_code", r.department_code],
      ["accepted_at", A.formatTime(r.accepted_at)],
      ["completed_at", A.formatTime(r.completed_at)],
      ["result", A.valueText("result", r.result)],
      ["certificate_number", r.certificate_number],
      ["archived_at", A.formatTime(r.archived_at)],
      ["file_count", A.formatNumber(r.file_count)],
      ["total_bytes", A.formatBytes(r.total_bytes)],
    ]);
    const c = r.classification || {};
    facts($("classification"), [
      ["archival_code", el("code", {}, r.archival_code)],
      ["fonds_code", c.fonds_code],
      ["category_code", c.category_code],
      ["class_code", c.class_code],
      ["year", c.year],
      ["retention", A.valueText("retention", r.retention)],
      ["retention_ends", r.retention_ends ? A.formatDate(r.retention_ends + "T00:00:00+08:00") : "永久保存，无期满日 permanent: no end"],
      ["organisation_code", c.organisation_code],
      ["item_number", c.item_number],
      ["security_level", c.security_level],
      ["sharing_level", A.valueText("sharing_level", c.sharing_level)],
      ["rule_id", c.rule_id],
      ["schedule_version", c.schedule_version],
      ["decided_by", c.decided_by],
    ]);
    const p = r.package || {};
    const location = p.key ? `s3://${p.bucket}/${p.key}` : p.bucket;
    facts($("package"), [
      ["location", el("code", { "data-testid": "package-location" }, location), A.bi("存储位置", "location")],
      ["version", el("code", {}, p.version_id || "—"), A.bi("对象版本", "object version")],
      ["sha256", el("code", {}, p.sha256 || "—"), A.bi("包摘要", "package SHA-256")],
      ["size", A.formatBytes(p.size), A.bi("包大小", "package size")],
      ["mode", p.retention_mode || "—", A.bi("保留模式", "retention mode (WORM)")],
      ["retain_until", el("span", { "data-testid": "retain-until" }, A.formatDate(p.retain_until)), A.bi("锁定至", "locked until")],
      ["legal_hold", p.legal_hold ? "是 on" : "否 off", A.bi("法律保留", "legal hold")],
    ]);
  }

  // --- files -----------------------------------------------------------------------------------------

  function checksOfFile(results, file) {
    return (results || []).filter((c) => c.file_name && (c.file_name === file.file_name || c.file_name === file.original_file_name));
  }

  function previewOf(file) {
    const box = el("div", { className: "preview", "data-testid": "preview" });
    if (!A.caller.mayDownload) {
      box.append(el("span", { className: "muted" }, "预览与下载需要 files.download 权限 previews and downloads need files.download"));
      return box;
    }
    const url = `/api/v1/records/${A.casePath(caseKey)}/files/${file.seq}`;
    if ((file.media_type || "").startsWith("audio/")) {
      box.append(el("audio", { controls: true, preload: "metadata", src: url, "data-testid": "player" }));
      return box;
    }
    if ((file.media_type || "").startsWith("video/")) {
      box.append(el("video", { controls: true, preload: "metadata", src: url, "data-testid": "player" }));
      return box;
    }
    if (!PREVIEWABLE.test(file.media_type || "")) {
      box.append(el("span", { className: "muted" }, `${file.media_type}：无页面图像 no page images — 请下载 download it`));
      return box;
    }
    let page = 1;
    let pages = null;
    const image = el("img", { alt: `${file.material_name || file.file_name} 第1页 page 1`, "data-testid": "preview-image" });
    const label = el("span", { className: "muted", "data-testid": "preview-page" }, "");
    const previous = el("button", { type: "button", className: "secondary", disabled: true }, "‹ 上一页 previous");
    const next = el("button", { type: "button", className: "secondary", disabled: true }, "下一页 next ›");
    async function show() {
      label.textContent = "载入中 loading…";
      try {
        const response = await A.api(`${url}/preview?page=${page}&width=480`, { headers: { Accept: "image/png" } });
        pages = Number(response.headers.get("X-Page-Count")) || 1;
        const blob = await response.blob();
        if (image.src) URL.revokeObjectURL(image.src);
        image.src = URL.createObjectURL(blob);
        image.alt = `${file.material_name || file.file_name} 第${page}页 page ${page}`;
        image.dataset.page = String(page);
        label.textContent = `第 ${page} / ${pages} 页 page ${page} of ${pages}`;
      } catch (err) {
        label.textContent = `无法预览 No preview: ${A.explain(err)}`;
      }
      previous.disabled = page <= 1;
      next.disabled = pages === null || page >= pages;
    }
    previous.addEventListener("click", () => { page -= 1; show(); });
    next.addEventListener("click", () => { page += 1; show(); });
    show();
    const wrap = el("div", {}, image, el("div", { className: "actions" }, previous, label, next));
    box.append(wrap);
    return box;
  }

  function hexOf(buffer) {
    return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  function hexOfReprDigest(header) {
    const match = /sha-256=:([^:]+):/.exec(header || "");
    if (!match) return null;
    return [...atob(match[1])].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
  }

  async function downloadVerified(file, verdict, button) {
    // The service verifies the bytes on the way out and breaks off a download that does not match; the
    // browser checks again what it received, against the digest recorded at capture, before saving it.
    button.disabled = true;
    verdict.dataset.state = "running";
    verdict.textContent = "下载中 downloading…";
    try {
      const response = await A.api(`/api/v1/records/${A.casePath(caseKey)}/files/${file.seq}`, { headers: { Accept: "*/*" } });
      const announced = hexOfReprDigest(response.headers.get("Repr-Digest"));
      const bytes = await response.arrayBuffer();
      if (!window.crypto || !window.crypto.subtle) {
        verdict.dataset.state = "unchecked";
        verdict.textContent = "此浏览器无法在此地址计算摘要（需 HTTPS）the browser cannot compute digests here (needs HTTPS); compare with sha256sum";
      } else {
        const computed = hexOf(await window.crypto.subtle.digest("SHA-256", bytes));
        verdict.dataset.sha256 = computed;
        const good = computed === file.sha256 && (announced === null || announced === file.sha256);
        verdict.dataset.state = good ? "verified" : "mismatch";
        verdict.className = `verdict pill ${good ? "pass" : "fail"}`;
        verdict.textContent = good
          ? `已校验 verified: SHA-256 ${computed.slice(0, 16)}…`
          : `摘要不符 DIGEST MISMATCH: ${computed} ≠ ${file.sha256}`;
        if (!good) return; // a file that does not verify is not saved
      }
      const link = el("a", { href: URL.createObjectURL(new Blob([bytes], { type: file.media_type })), download: file.original_file_name || file.file_name });
      document.body.append(link);
      link.click();
      link.remove();
    } catch (err) {
      verdict.dataset.state = "error";
      verdict.className = "verdict pill fail";
      verdict.textContent = `下载失败 Download failed: ${A.explain(err)}`;
    } finally {
      button.disabled = false;
    }
  }

  function fileCard(file, results) {
    const verdict = el("span", { className: "verdict", "data-testid": "download-verdict", role: "status" });
    const actions = el("div", { className: "actions" });
    if (A.caller.mayDownload) {
      const button = el("button", { type: "button", "data-testid": "download" }, "下载并校验 Download and verify");
      button.addEventListener("click", () => downloadVerified(file, verdict, button));
      actions.append(button, verdict);
    }
    const own = checksOfFile(results, file);
    const checks = own.length
      ? el("ul", { className: "file-checks", "data-testid": "file-checks" },
          own.map((c) => el("li", {}, el("code", {}, c.code), " ", A.pill("outcome", c.outcome))))
      : null;
    return el(
      "article",
      { className: "file", "data-testid": "file", "data-seq": file.seq, "data-sha256": file.sha256 },
      el("h3", {}, file.material_name || file.file_name, " ", el("span", { className: "muted" }, A.valueText("stage", file.stage))),
      el("div", { className: "muted" }, file.original_file_name || file.file_name, " · ", file.media_type, " · ", A.formatBytes(file.size)),
      previewOf(file),
      actions,
      el("div", { className: "muted mono", title: file.sha256 }, `SHA-256 ${file.sha256}`),
      file.sm3 ? el("div", { className: "muted mono" }, `SM3 ${file.sm3}`) : null,
      checks
    );
  }

  // --- checks and history ----------------------------------------------------------------------------

  function drawChecks(checks) {
    const results = checks.results;
    const note = $("checks-note");
    let rows = results;
    if (!results) {
      // The package's description could not be read: the verdicts the index keeps are shown instead.
      note.hidden = false;
      note.textContent = `逐项结果暂不可用 Per-check results unavailable: ${checks.results_unavailable}. 以下为警告与检测事件 Showing the warnings and check events.`;
      rows = checks.warnings || [];
    }
    $("check-summary").replaceChildren(
      ...PROPERTIES.map((property) => {
        const of = rows.filter((c) => c.property === property);
        const counts = {};
        for (const c of of) counts[c.outcome] = (counts[c.outcome] || 0) + 1;
        const worst = counts.fail ? "fail" : counts.warn ? "warn" : of.length ? "pass" : "not_run";
        return el(
          "div",
          { className: "prop", "data-testid": "property", "data-property": property, "data-outcome": worst },
          el("strong", {}, A.label("property", property)),
          " ",
          A.pill("outcome", worst),
          el("div", { className: "muted" }, Object.entries(counts).map(([k, n]) => `${A.label("outcome", k)} ×${n}`).join(" · ") || "—")
        );
      })
    );
    $("check-rows").replaceChildren(
      ...rows.map((c) =>
        el(
          "tr",
          { "data-testid": "check-row", "data-code": c.code, "data-outcome": c.outcome },
          el("td", {}, el("code", {}, c.code)),
          el("td", {}, A.label("property", c.property)),
          el("td", {}, A.pill("outcome", c.outcome)),
          el("td", {}, c.file_name || "—"),
          el("td", {}, c.reason_zh || "", c.reason_en ? el("span", { className: "en" }, ` ${c.reason_en}`) : null)
        )
      )
    );
  }

  function drawTimeline(r) {
    const items = [
      ...r.preservation_events.map((e) => ({
        time: e.event_time, kind: e.event_type, outcome: e.outcome, detail: e.detail, agent: e.agent,
      })),
      ...r.fixity_checks.map((f) => ({
        time: f.checked_at, kind: "fixity check", outcome: f.outcome === "pass" ? "success" : "failure",
        detail: f.reason || (f.outcome === "pass" ? "SHA-256 清单全部复核一致 every digest of the manifests recomputed and equal" : ""),
        agent: f.agent,
      })),
    ];
    $("timeline").replaceChildren(
      ...items.map((item) => {
        const [zh, en] = EVENT_TYPES[item.kind] || [item.kind, ""];
        return el(
          "li",
          { className: String(item.outcome).replace(/ /g, "-"), "data-testid": "timeline-event", "data-type": item.kind, "data-outcome": item.outcome },
          el("time", { datetime: item.time || "" }, A.formatTime(item.time)),
          el("strong", {}, zh, " ", el("span", { className: "en" }, en)),
          " ",
          A.pill("outcome", item.outcome),
          el("div", {}, item.detail),
          el("div", { className: "muted mono" }, item.agent)
        );
      })
    );
  }

  async function load() {
    try {
      const r = await A.apiJson(`/api/v1/records/${A.casePath(caseKey)}`);
      drawMetadata(r);
      const results = r.checks.results;
      $("files").replaceChildren(...r.files.map((f) => fileCard(f, results)));
      drawChecks(r.checks);
      drawTimeline(r);
      root.dataset.state = "ok";
    } catch (err) {
      root.dataset.state = "error";
      A.showBanner($("error-banner"), `无法载入档案 Could not load the record: ${A.explain(err)}`);
    }
  }

  load();
})();
