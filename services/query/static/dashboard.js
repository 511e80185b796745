// The operations dashboard: polls /api/v1/dashboard and draws it; resolves quarantine entries.
// Plain JS, no libraries, nothing from the internet. The HttpOnly `aa_key` cookie (set by POST /login)
// authenticates every request, so fetch() sends credentials "same-origin". Data is only ever inserted
// as text (textContent), never as HTML.
"use strict";

(function () {
  const root = document.getElementById("dashboard");
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(window.location.search);
  const interval = clampSeconds(params.get("refresh") || root.dataset.refreshSeconds);
  const queueRows = clampRows(params.get("rows"));
  const numberFormat = new Intl.NumberFormat("zh-CN");
  const drawn = {}; // what each table shows now, so an unchanged table is left alone between polls
  let updates = 0;
  let timer = null;
  let maySolve = true;
  let resolving = null; // the entry whose resolve panel is open

  $("refresh-interval").textContent = String(interval);

  function clampSeconds(value) {
    const n = parseInt(value, 10);
    if (!Number.isFinite(n)) return 5;
    return Math.min(Math.max(n, 1), 300);
  }

  function clampRows(value) {
    // How many of the oldest queue entries to list (`?rows=`, 1–100, default 10).
    const n = parseInt(value, 10);
    if (!Number.isFinite(n)) return 10;
    return Math.min(Math.max(n, 1), 100);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function formatNumber(value) {
    return value === null || value === undefined ? "—" : numberFormat.format(value);
  }

  function formatTime(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return d.toLocaleString("zh-CN", { hour12: false });
  }

  function formatClock(iso) {
    return new Date(iso).toLocaleTimeString("zh-CN", { hour12: false });
  }

  function setNumber(id, value) {
    const node = $(id);
    node.textContent = formatNumber(value);
    node.dataset.value = value === null || value === undefined ? "" : String(value);
  }

  function showPartError(part, data) {
    const node = document.querySelector(`[data-testid="${part}-error"]`);
    const failed = data && data.ok === false;
    node.hidden = !failed;
    node.textContent = failed ? `暂不可用 Unavailable: ${data.error}` : "";
    // Parts the service caches longer say how old they are, so a number that lags the others is explained.
    const asOf = document.querySelector(`[data-testid="${part}-as-of"]`);
    if (asOf) asOf.textContent = data && data.as_of ? `截至 as of ${formatClock(data.as_of)}` : "";
    return !failed;
  }

  function replaceRows(key, tbody, rows, render, extra) {
    // Ages grow every poll; redrawing a table for that alone would replace the rows under the pointer.
    const signature = JSON.stringify([rows, extra], (k, v) => (k === "age_seconds" ? undefined : v));
    if (drawn[key] === signature) return;
    drawn[key] = signature;
    tbody.replaceChildren(...rows.map(render));
  }

  // --- parts ---------------------------------------------------------------------------------------

  function drawThroughput(t) {
    const ok = showPartError("throughput", t);
    setNumber("throughput-last-minute", ok ? t.last_minute : null);
    setNumber("throughput-last-5-minutes", ok ? t.last_5_minutes : null);
    setNumber("throughput-last-hour", ok ? t.last_hour : null);
    setNumber("throughput-last-24-hours", ok ? t.last_24_hours : null);
    setNumber("archived-total", ok ? t.total : null);
    const series = ok ? t.per_minute : [];
    const peak = Math.max(1, ...series.map((m) => m.archived));
    replaceRows("throughput", $("throughput-chart"), series, (m) =>
      el("span", {
        className: "bar",
        style: `height:${Math.round((m.archived / peak) * 100)}%`,
        title: `${formatTime(m.minute)}: ${m.archived}`,
        "data-value": m.archived,
      })
    );
    $("throughput-peak").textContent = ok ? `（峰值 peak ${formatNumber(peak)}/min）` : "";
  }

  function drawBacklog(b) {
    showPartError("backlog", b);
    setNumber("backlog-total", b.ok ? b.total_lag : null);
    replaceRows("backlog", $("backlog-rows"), b.stages || [], (s) =>
      el(
        "tr",
        { "data-testid": "backlog-row", "data-service": s.service, className: s.lag > 0 ? "busy" : null },
        el("td", {}, s.service),
        el("td", {}, el("code", {}, s.topic), s.topic_exists === false ? " (无此主题 no such topic)" : ""),
        el("td", {}, el("code", {}, s.group_id), s.ok !== false && s.started === false ? " (未提交 no commits)" : ""),
        el("td", { className: "n", "data-testid": "backlog-lag", "data-value": s.lag ?? "" }, formatNumber(s.lag)),
        el("td", { className: "n", "data-testid": "backlog-end-offset", "data-value": s.end_offset ?? "" }, formatNumber(s.end_offset))
      )
    );
  }

  function drawRejects(r) {
    const ok = showPartError("rejects", r);
    replaceRows("rejects-defect", $("rejects-defect-rows"), ok ? r.by_defect : [], (d) =>
      el(
        "tr",
        { "data-testid": "reject-defect-row", "data-code": d.code },
        el("td", {}, el("code", {}, d.code)),
        el("td", { className: "n", "data-testid": "reject-open", "data-value": d.open }, formatNumber(d.open)),
        el(
          "td",
          { className: "n", "data-testid": "reject-last-24-hours", "data-value": d.last_24_hours },
          formatNumber(d.last_24_hours)
        )
      )
    );
    replaceRows("rejects-department", $("rejects-department-rows"), ok ? r.by_department : [], (d) =>
      el(
        "tr",
        { "data-testid": "reject-department-row", "data-department": d.department_code },
        el("td", {}, d.department_name, " ", el("span", { className: "muted" }, d.department_code)),
        el("td", { className: "n" }, formatNumber(d.open)),
        el("td", { className: "n" }, formatNumber(d.last_24_hours))
      )
    );
  }

  // The re-check at preservation time (fixity, format still accepted, file still opens): the fixity
  // part's shape, drawn into the elements named `revalidation-…`.
  function drawRevalidation(f) {
    const part = "revalidation";
    const ok = showPartError(part, f);
    for (const name of ["packages", "checked", "passed", "failed", "never_checked"]) {
      setNumber(`${part}-${name.replace("_", "-")}`, ok ? f[name] : null);
    }
    $(`${part}-last-checked`).textContent = ok ? formatTime(f.last_checked_at) : "—";
    const status = $(`${part}-status`);
    const labels = { ok: "正常 OK", failed: "未通过 FAILED", unchecked: "未检测 not yet checked" };
    status.textContent = ok ? labels[f.status] || f.status : "—";
    status.dataset.status = ok ? f.status : "unknown";
    const failed = ok ? f.failed_packages : [];
    $(`${part}-failed-table`).hidden = failed.length === 0;
    replaceRows(`${part}-failed`, $(`${part}-failed-rows`), failed, (p) =>
      el(
        "tr",
        { "data-case-key": p.case_key },
        el("td", {}, el("code", {}, p.archival_code)),
        el("td", {}, p.case_title),
        el("td", {}, formatTime(p.checked_at)),
        el("td", {}, p.reason || "")
      )
    );
  }

  function drawFixity(f) {
    const ok = showPartError("fixity", f);
    for (const name of ["packages", "checked", "passed", "failed", "never_checked"]) {
      setNumber(`fixity-${name.replace("_", "-")}`, ok ? f[name] : null);
    }
    $("fixity-last-checked").textContent = ok ? formatTime(f.last_checked_at) : "—";
    const status = $("fixity-status");
    const labels = { ok: "正常 OK", failed: "有损坏 FAILED", unchecked: "未检查 not yet checked" };
    status.textContent = ok ? labels[f.status] || f.status : "—";
    status.dataset.status = ok ? f.status : "unknown";
    const failed = ok ? f.failed_packages : [];
    $("fixity-failed-table").hidden = failed.length === 0;
    replaceRows("fixity-failed", $("fixity-failed-rows"), failed, (p) =>
      el(
        "tr",
        { "data-case-key": p.case_key },
        el("td", {}, el("code", {}, p.archival_code)),
        el("td", {}, p.case_title),
        el("td", {}, formatTime(p.checked_at)),
        el("td", {}, p.reason || "")
      )
    );
  }

  function drawRestoreTest(r) {
    const ok = showPartError("restore_test", r);
    const run = ok ? r.last_run : {};
    const win = ok ? r.window : {};
    $("restore-test-last-run").textContent = ok ? formatTime(run.at) : "—";
    setNumber("restore-test-last-tested", ok && run.at ? run.tested : null);
    setNumber("restore-test-last-passed", ok && run.at ? run.passed : null);
    setNumber("restore-test-last-failed", ok && run.at ? run.failed : null);
    $("restore-test-days").textContent = ok ? String(win.days) : "7";
    setNumber("restore-test-window-passed", ok ? win.passed : null);
    setNumber("restore-test-window-failed", ok ? win.failed : null);
    setNumber("restore-test-without-replica", ok ? r.replica.without_replica : null);
    const labels = {
      ok: "正常 OK",
      failed: "有失败 FAILED",
      stale: "已停止 no recent run",
      never_run: "未运行 never run",
      no_replica: "无副本站点 no replica",
    };
    const status = $("restore-test-status");
    status.textContent = ok ? labels[r.status] || r.status : "—";
    status.dataset.status = ok ? (r.status === "ok" ? "ok" : r.status === "failed" ? "failed" : "unchecked") : "unknown";
    if (ok) $("restore-test-command").textContent = r.command;
    const failure = ok ? r.newest_failure : null;
    $("restore-test-failure").hidden = !failure;
    $("restore-test-failure-case").textContent = failure ? failure.case_key : "";
    $("restore-test-failure-time").textContent = failure ? `(${formatTime(failure.tested_at)})` : "";
    $("restore-test-failure-reason").textContent = failure ? failure.reason || "" : "";
    const lag = $("restore-test-replica-lag");
    const missing = ok && r.replica.without_replica > 0;
    lag.hidden = !missing;
    lag.textContent = missing
      ? `最早无副本的档案包归档于 oldest package without a replica archived ${formatTime(
          r.replica.oldest_without_replica_archived_at
        )} (${formatNumber(Math.round(r.replica.lag_seconds / 3600))} h)`
      : "";
  }

  function drawPoisonPills(p) {
    const ok = showPartError("poison_pills", p);
    setNumber("poison-pills-total", ok ? p.total : null);
    setNumber("poison-pills-last-24-hours", ok ? p.last_24_hours : null);
    const status = $("poison-pills-status");
    status.textContent = ok ? (p.status === "ok" ? "正常 none" : "有搁置 SET ASIDE") : "—";
    status.dataset.status = ok ? (p.status === "ok" ? "ok" : "failed") : "unknown";
    const latest = ok ? p.latest : [];
    $("poison-pills-table").hidden = latest.length === 0;
    replaceRows("poison-pills", $("poison-pills-rows"), latest, (m) =>
      el(
        "tr",
        { "data-testid": "poison-pill-row" },
        el("td", {}, m.service),
        el("td", {}, el("code", {}, `${m.topic} / ${m.partition} @ ${m.offset}`)),
        el("td", {}, m.origin_key || ""),
        el("td", { className: "n" }, formatNumber(m.deaths)),
        el("td", {}, formatTime(m.set_aside_at))
      )
    );
  }

  function drawQueues(q) {
    const ok = showPartError("queues", q);
    setNumber("quarantine-open-count", ok ? q.quarantine.open : null);
    setNumber("reviews-waiting-count", ok ? q.reviews.waiting : null);
    const entries = ok ? q.quarantine.oldest : [];
    $("quarantine-empty").hidden = !ok || entries.length > 0;
    replaceRows("quarantine", $("quarantine-rows"), entries, quarantineRow, maySolve);
    const reviews = ok ? q.reviews.oldest : [];
    $("reviews-empty").hidden = !ok || reviews.length > 0;
    replaceRows("reviews", $("reviews-rows"), reviews, (r) =>
      el(
        "tr",
        { "data-testid": "review-row", "data-case-key": r.case_key },
        el("td", {}, el("code", {}, r.case_key), el("div", { className: "muted" }, r.case_title)),
        el("td", {}, r.source_platform),
        el("td", {}, r.item_name, " ", el("span", { className: "muted" }, r.item_code)),
        el("td", {}, r.reason),
        el("td", {}, formatTime(r.queued_at))
      )
    );
  }

  function drawDisposition(d) {
    const ok = showPartError("disposition", d);
    setNumber("disposition-count", ok ? d.due : null);
    for (const name of ["held", "proposed", "approved"]) {
      $(`disposition-${name}`).textContent = ok ? String(d[name]) : "—";
    }
    const rows = ok ? d.oldest : [];
    $("disposition-empty").hidden = !ok || rows.length > 0;
    replaceRows("disposition", $("disposition-rows"), rows, (r) =>
      el(
        "tr",
        { "data-testid": "disposition-row", "data-case-key": r.case_key },
        el("td", {}, el("code", {}, r.archival_code), el("div", { className: "muted" }, r.case_title)),
        el("td", {}, r.retention),
        el("td", {}, formatTime(r.expires_at)),
        el("td", {}, r.held ? "冻结 held" : r.pending ? r.pending : "待鉴定 to appraise")
      )
    );
  }

  function drawOverdue(o) {
    const ok = showPartError("overdue", o);
    setNumber("overdue-count", ok ? o.cases : null);
    $("overdue-days").textContent = ok ? String(o.days) : "—";
    const groups = ok ? o.by_platform_department : [];
    $("overdue-empty").hidden = !ok || groups.length > 0;
    replaceRows("overdue", $("overdue-rows"), groups, (g) =>
      el(
        "tr",
        { "data-testid": "overdue-row", "data-platform": g.source_platform, "data-department": g.department_code },
        el("td", {}, g.source_platform),
        el("td", {}, g.department_name || g.department_code),
        el("td", {}, String(g.cases)),
        el("td", {}, String(g.oldest_days_open))
      )
    );
  }

  function quarantineRow(e) {
    const failures = el(
      "ul",
      { className: "failures" },
      ...e.failures.map((f) =>
        el(
          "li",
          { "data-code": f.code },
          el("code", {}, f.code),
          " ",
          f.reason_zh || "",
          f.reason_en ? el("span", { className: "en" }, ` ${f.reason_en}`) : null,
          f.file_name ? el("span", { className: "muted" }, ` (${f.file_name})`) : null
        )
      )
    );
    const button = el(
      "button",
      {
        type: "button",
        "data-testid": "resolve-button",
        "data-case-key": e.case_key,
        disabled: !maySolve,
        title: maySolve ? null : "此角色不能处理队列 your role may not act on queues",
      },
      "处理 Resolve"
    );
    button.addEventListener("click", () => openResolve(e));
    return el(
      "tr",
      { "data-testid": "quarantine-row", "data-case-key": e.case_key },
      el("td", {}, el("code", {}, e.case_key), el("div", { className: "muted" }, e.case_title || "")),
      el("td", {}, e.source_platform),
      el("td", {}, e.department_name || "未知 unknown"),
      el("td", {}, failures),
      el("td", {}, formatTime(e.opened_at)),
      el("td", {}, button)
    );
  }

  // --- polling -------------------------------------------------------------------------------------

  function showBanner(message) {
    const banner = $("error-banner");
    banner.hidden = !message;
    banner.replaceChildren();
    if (!message) return;
    banner.append(message);
    if (message.startsWith("未登录")) banner.append(" ", el("a", { href: "/dashboard" }, "登录 Log in"));
  }

  function notify(message) {
    const notice = $("notice");
    notice.hidden = !message;
    notice.textContent = message || "";
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const response = await fetch(`/api/v1/dashboard?rows=${queueRows}`, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      });
      if (response.status === 401) throw new Error("未登录或密钥已失效 Not logged in or the key has expired (401).");
      if (!response.ok) throw new Error(`${response.status} ${await errorDetail(response)}`);
      const data = await response.json();
      maySolve = Boolean(data.caller && data.caller.may_resolve);
      $("caller").textContent = data.caller ? `${data.caller.name} (${data.caller.role})` : "";
      drawThroughput(data.throughput);
      drawBacklog(data.backlog);
      drawRejects(data.rejects);
      drawFixity(data.fixity);
      if (data.restore_test) drawRestoreTest(data.restore_test);
      if (data.revalidation) drawRevalidation(data.revalidation);
      drawPoisonPills(data.poison_pills);
      drawQueues(data.queues);
      if (data.overdue) drawOverdue(data.overdue);
      if (data.disposition) drawDisposition(data.disposition);
      updates += 1;
      root.dataset.updates = String(updates);
      root.dataset.state = "ok";
      $("last-updated").textContent = formatTime(data.generated_at);
      $("last-updated").setAttribute("datetime", data.generated_at);
      showBanner(null);
    } catch (err) {
      root.dataset.state = "error";
      const message = err instanceof Error ? err.message : String(err);
      const network = err instanceof TypeError ? "服务无响应 The query service did not answer" : message;
      showBanner(
        message.startsWith("未登录")
          ? message
          : `刷新失败 Refresh failed: ${network} — 显示的是上次成功的数据，将在 ${interval} 秒后重试 ` +
              `(showing the last good data, retrying in ${interval} s)`
      );
    } finally {
      timer = setTimeout(refresh, interval * 1000);
    }
  }

  async function errorDetail(response) {
    try {
      const body = await response.json();
      return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? body);
    } catch (_) {
      return response.statusText;
    }
  }

  // --- resolving a quarantine entry ----------------------------------------------------------------

  function openResolve(entry) {
    resolving = entry;
    $("resolve-case-key").textContent = entry.case_key;
    $("resolve-case-title").textContent = entry.case_title || "";
    $("resolve-resolution").value = "withdrawn";
    $("resolve-note").value = "";
    $("resolve-error").hidden = true;
    $("resolve-submit").disabled = false;
    $("resolve-panel").hidden = false;
    $("resolve-resolution").focus();
  }

  function closeResolve() {
    resolving = null;
    $("resolve-panel").hidden = true;
  }

  function casePath(caseKey) {
    // Case keys are `platform/case-number/rN`: each segment encoded, the slashes kept.
    return caseKey.split("/").map(encodeURIComponent).join("/");
  }

  async function submitResolve(event) {
    event.preventDefault();
    if (!resolving) return;
    const caseKey = resolving.case_key;
    const errorNode = $("resolve-error");
    $("resolve-submit").disabled = true;
    errorNode.hidden = true;
    try {
      const response = await fetch(`/api/v1/quarantine/${casePath(caseKey)}/resolve`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ resolution: $("resolve-resolution").value, note: $("resolve-note").value }),
      });
      if (!response.ok) throw new Error(`${response.status} ${await errorDetail(response)}`);
      closeResolve();
      notify(`已处理 Resolved: ${caseKey}`);
      refresh();
    } catch (err) {
      errorNode.textContent = `处理失败 Could not resolve: ${err instanceof Error ? err.message : err}`;
      errorNode.hidden = false;
      $("resolve-submit").disabled = false;
    }
  }

  $("resolve-form").addEventListener("submit", submitResolve);
  $("resolve-cancel").addEventListener("click", closeResolve);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && resolving) closeResolve();
  });

  refresh();
})();
