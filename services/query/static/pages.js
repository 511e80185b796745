// What the staff's pages share: building elements, calling the API, the unified standard's bilingual terms.
// Plain JS, no libraries, nothing from the internet. The HttpOnly `aa_key` cookie (POST /login) authenticates
// every request, so fetch() sends credentials "same-origin". Data is only ever inserted as text, never as HTML.
"use strict";

window.Archive = (function () {
  const body = document.body;
  const caller = {
    name: body.dataset.callerName,
    role: body.dataset.callerRole,
    mayDownload: body.dataset.mayDownload === "true",
    mayAct: body.dataset.mayAct === "true",
    mayQueues: body.dataset.mayQueues === "true",
    mayDashboard: body.dataset.mayDashboard === "true",
  };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "className") node.className = value;
      else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  // "中文 English": the Chinese term first, the English beside it, as the dashboard writes labels.
  function bi(zh, en) {
    return el("span", {}, zh, " ", el("span", { className: "en" }, en));
  }

  function casePath(caseKey) {
    // Case keys are `platform/case-number/rN`: each segment encoded, the slashes kept.
    return caseKey.split("/").map(encodeURIComponent).join("/");
  }

  class ApiError extends Error {
    constructor(status, detail) {
      super(`${status} ${detail}`);
      this.status = status;
      this.detail = detail;
    }
  }

  async function detailOf(response) {
    try {
      const data = await response.json();
      return typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail ?? data);
    } catch (_) {
      return response.statusText;
    }
  }

  async function api(path, options) {
    const response = await fetch(path, {
      credentials: "same-origin",
      cache: "no-store",
      ...(options || {}),
      headers: { Accept: "application/json", ...((options && options.headers) || {}) },
    });
    if (!response.ok) throw new ApiError(response.status, await detailOf(response));
    return response;
  }

  async function apiJson(path, options) {
    return (await api(path, options)).json();
  }

  async function postJson(path, payload) {
    return apiJson(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
  }

  function explain(err) {
    if (err instanceof ApiError && err.status === 401) return "未登录或密钥已失效 Not logged in or the key has expired (401) — reload the page to log in";
    if (err instanceof ApiError) return err.message;
    if (err instanceof TypeError) return "服务无响应 The query service did not answer";
    return String(err && err.message ? err.message : err);
  }

  function showBanner(node, message) {
    node.hidden = !message;
    node.textContent = message || "";
  }

  const dateTime = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  });
  const dateOnly = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
  });
  const numberFormat = new Intl.NumberFormat("zh-CN");

  // Times are shown in China Standard Time, the time the cases were decided in.
  function formatTime(iso) { return iso ? dateTime.format(new Date(iso)) : "—"; }
  function formatDate(iso) { return iso ? dateOnly.format(new Date(iso)) : "—"; }
  function formatNumber(n) { return n === null || n === undefined ? "—" : numberFormat.format(n); }
  function formatBytes(n) {
    if (n === null || n === undefined) return "—";
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  // The unified metadata standard's terms (统一元数据标准, DA/T 85 / GB/T 42727 style), zh first.
  const TERMS = {
    archival_code: ["档号", "archival code"],
    case_title: ["案卷题名", "case title"],
    applicant_name: ["申请人", "applicant"],
    applicant_type: ["申请人类型", "applicant type"],
    applicant_id_type: ["证件类型", "ID type"],
    applicant_id_number: ["证件号码", "ID number"],
    source_platform: ["来源平台", "source platform"],
    case_number: ["办件编号", "case number"],
    revision: ["修订版本", "revision"],
    region_code: ["行政区划代码", "region code"],
    item_code: ["事项编码", "item code"],
    item_name: ["事项名称", "item name"],
    department_code: ["受理部门代码", "department code"],
    department_name: ["受理部门", "accepting department"],
    accepted_at: ["受理时间", "accepted"],
    completed_at: ["办结时间", "completed"],
    archived_at: ["归档时间", "archived"],
    result: ["办理结果", "result"],
    certificate_number: ["证照编号", "certificate number"],
    retention: ["保管期限", "retention period"],
    retention_ends: ["保管期满日期", "retention ends"],
    category_code: ["门类代码", "category"],
    class_code: ["类目代码", "class"],
    security_level: ["密级", "security classification"],
    sharing_level: ["共享属性", "sharing level"],
    file_count: ["文件数", "file count"],
    total_bytes: ["总字节数", "total size"],
    fonds_code: ["全宗号", "fonds"],
    year: ["年度", "year"],
    organisation_code: ["机构（问题）代码", "organisation code"],
    item_number: ["件号", "item number"],
    rule_id: ["分类规则", "schedule rule"],
    schedule_version: ["保管期限表版本", "schedule version"],
    decided_by: ["人工分类人", "decided by"],
    decided_at: ["人工分类时间", "decided at"],
  };
  const VALUES = {
    retention: { Y: ["永久", "permanent"], D30: ["定期30年", "30 years"], D10: ["定期10年", "10 years"] },
    sharing_level: { "01": ["无条件共享", "unconditional"], "02": ["有条件共享", "conditional"], "03": ["不予共享", "not shared"] },
    applicant_type: { organisation: ["法人或其他组织", "organisation"], person: ["自然人", "person"] },
    applicant_id_type: {
      uscc: ["统一社会信用代码", "USCC"], resident_id: ["居民身份证", "resident ID"],
      passport: ["护照", "passport"], other: ["其他", "other"],
    },
    result: {
      approved: ["准予", "approved"], partially_approved: ["部分准予", "partially approved"],
      refused: ["不予", "refused"], withdrawn: ["撤回", "withdrawn"],
    },
    stage: { application: ["申请", "application"], process: ["过程", "process"], result: ["结果", "result"] },
    property: {
      authenticity: ["真实性", "authenticity"], integrity: ["完整性", "integrity"],
      usability: ["可用性", "usability"], security: ["安全性", "security"],
    },
    outcome: {
      pass: ["通过", "pass"], warn: ["警告", "warning"], fail: ["未通过", "fail"], not_run: ["未执行", "not run"],
      success: ["成功", "success"], warning: ["警告", "warning"], failure: ["失败", "failure"],
      "not performed": ["未执行", "not performed"],
    },
  };

  function term(field) {
    const [zh, en] = TERMS[field] || [field, ""];
    return bi(zh, en);
  }

  function valueText(kind, value) {
    const known = VALUES[kind] && VALUES[kind][value];
    if (value === null || value === undefined || value === "") return "—";
    return known ? `${known[0]} ${known[1]} (${value})` : String(value);
  }

  // "中文 English" of a known value (without the code), the value itself otherwise.
  function label(kind, value) {
    const known = VALUES[kind] && VALUES[kind][value];
    return known ? `${known[0]} ${known[1]}` : String(value ?? "—");
  }

  function pill(kind, value) {
    const known = VALUES[kind] && VALUES[kind][value];
    return el(
      "span",
      { className: `pill ${String(value).replace(/ /g, "-")}`, "data-value": value },
      known ? `${known[0]} ${known[1]}` : String(value)
    );
  }

  // The header every page shares: where you are, who you are, and a way to change key.
  function drawHeader(current) {
    const links = [["/records", "档案检索", "Search", "search"]];
    if (caller.mayQueues) links.push(["/queues", "工作队列", "Queues", "queues"]);
    if (caller.mayDashboard) links.push(["/dashboard", "运行看板", "Dashboard", "dashboard"]);
    const nav = el(
      "nav",
      { "aria-label": "页面 Pages" },
      links.map(([href, zh, en, name]) =>
        el("a", { href, "aria-current": name === current ? "page" : null }, zh, " ", el("span", { className: "en" }, en))
      )
    );
    const logout = el(
      "form",
      { method: "post", action: "/logout", className: "inline" },
      el("input", { type: "hidden", name: "next", value: window.location.pathname + window.location.search }),
      el("button", { type: "submit", className: "secondary", "data-testid": "logout" }, "切换密钥 Change key")
    );
    const header = document.querySelector("header.top .bar");
    header.replaceChildren(
      el("h1", {}, "档案查询 ", el("span", { className: "en" }, "Archive")),
      nav,
      el("span", { className: "who", "data-testid": "caller" }, `${caller.name} (${caller.role})`),
      logout
    );
  }

  return {
    caller, el, bi, casePath, api, apiJson, postJson, explain, showBanner, ApiError,
    formatTime, formatDate, formatNumber, formatBytes, term, valueText, label, pill, drawHeader, VALUES,
  };
})();
