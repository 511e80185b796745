// The queues as workflows. A waiting review opens to the schedule's choices (GET …/choices) and is decided
// here through the API's own decision route (POST /api/v1/reviews/{case_key}/decide), recorded with the
// key's name as its author. A quarantine entry opens to its failing checks grouped by file, and can be
// resolved through POST /api/v1/quarantine/{case_key}/resolve, as on the dashboard.
"use strict";

(function () {
  const A = window.Archive;
  const el = A.el;
  const $ = (id) => document.getElementById(id);
  const root = $("queues-page");
  const cursors = { reviews: null, quarantine: null };

  A.drawHeader("queues");

  function notify(message) {
    A.showBanner($("notice"), message);
  }

  function fail(message) {
    A.showBanner($("error-banner"), message);
  }

  // --- manual review -----------------------------------------------------------------------------------

  function ruleOption(caseKey, rule, index) {
    const id = `rule-${caseKey}-${index}`;
    return el(
      "div",
      { className: "rule" },
      el("input", { type: "radio", name: `choice-${caseKey}`, id, value: rule.rule_id, "data-testid": "rule-choice", "data-rule-id": rule.rule_id }),
      el(
        "label",
        { for: id },
        el("code", {}, rule.rule_id),
        rule.covers_item ? el("strong", {}, " 适用于本事项 covers this item") : null,
        el(
          "div",
          { className: "muted" },
          `${A.label("retention", rule.retention)} · ${rule.category}/${rule.class}${rule.class_name ? " " + rule.class_name : ""} · ` +
            `${rule.security} · ${A.label("sharing_level", rule.sharing)} · 事项 item ${rule.item}`
        )
      )
    );
  }

  function select(name, options, labelText) {
    const id = `value-${name}-${Math.random().toString(36).slice(2, 8)}`;
    return el(
      "div",
      {},
      el("label", { for: id }, labelText),
      el("select", { id, name, "data-testid": `value-${name}` }, el("option", { value: "" }, "—"), options.map(([v, t]) => el("option", { value: v }, t)))
    );
  }

  function decisionForm(review, choices) {
    const key = review.case_key;
    const byRule = el("input", { type: "radio", name: `mode-${key}`, value: "rule", id: `mode-rule-${key}`, checked: true });
    const byValues = el("input", { type: "radio", name: `mode-${key}`, value: "values", id: `mode-values-${key}`, "data-testid": "mode-values" });
    const categories = choices.values.categories;
    const classOptions = Object.entries(categories).flatMap(([code, c]) =>
      Object.entries(c.classes).map(([cls, name]) => [cls, `${code}/${cls} ${name}`])
    );
    const values = el(
      "div",
      { className: "values" },
      select("retention", choices.values.retention.map((v) => [v, A.label("retention", v)]), A.bi("保管期限", "retention")),
      select("category", Object.entries(categories).map(([code, c]) => [code, `${code} ${c.name}`]), A.bi("门类", "category")),
      select("class", classOptions, A.bi("类目", "class")),
      select("security", choices.values.security.map((v) => [v, v]), A.bi("密级", "security")),
      select("sharing", choices.values.sharing.map((v) => [v, A.label("sharing_level", v)]), A.bi("共享属性", "sharing"))
    );
    const organisationId = `organisation-${key}`;
    const noteId = `note-${key}`;
    const error = el("p", { className: "banner", role: "alert", "data-testid": "decide-error", hidden: true });
    const submit = el("button", { type: "submit", "data-testid": "decide-submit" }, "确认分类 Decide");
    const form = el(
      "form",
      { "data-testid": "decide-form", "data-case-key": key },
      el("p", { className: "muted" }, `保管期限表 schedule ${choices.schedule_version} · ${choices.schedule_title}`),
      el(
        "div",
        { className: "choices" },
        el(
          "fieldset",
          {},
          el("legend", {}, byRule, el("label", { for: byRule.id, style: "display:inline" }, " 按规则 by a rule of the schedule")),
          choices.rules.map((rule, i) => ruleOption(key, rule, i))
        ),
        el(
          "fieldset",
          {},
          el("legend", {}, byValues, el("label", { for: byValues.id, style: "display:inline" }, " 按值 by values")),
          values
        )
      ),
      el(
        "div",
        { className: "form-row" },
        el("label", { for: organisationId }, A.bi("机构代码（未配置时）", "organisation code (when none is configured)")),
        el("input", { id: organisationId, name: "organisation", autocomplete: "off", "data-testid": "decide-organisation" })
      ),
      el(
        "div",
        { className: "form-row" },
        el("label", { for: noteId }, A.bi("说明", "note, for the record")),
        el("textarea", { id: noteId, name: "note", rows: 2, maxlength: 2000, "data-testid": "decide-note" })
      ),
      error,
      el("div", { className: "form-row" }, submit,
        A.caller.mayAct ? null : el("span", { className: "muted" }, " 此角色不能决定 your role may not decide (queues.act)"))
    );
    submit.disabled = !A.caller.mayAct;
    values.addEventListener("change", () => { byValues.checked = true; });
    form.addEventListener("change", (e) => { if (e.target.dataset.testid === "rule-choice") byRule.checked = true; });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const payload = { note: form.elements.note.value.trim() || null };
      const organisation = form.elements.organisation.value.trim();
      if (organisation) payload.organisation = organisation;
      if (byValues.checked) {
        payload.values = {};
        for (const name of ["retention", "category", "class", "security", "sharing"]) payload.values[name] = values.querySelector(`[name=${name}]`).value;
      } else {
        const chosen = form.querySelector(`input[name="choice-${CSS.escape(key)}"]:checked`);
        if (!chosen) {
          A.showBanner(error, "请选择一条规则，或改为按值决定 Choose a rule, or decide by values");
          return;
        }
        payload.rule_id = chosen.value;
      }
      submit.disabled = true;
      A.showBanner(error, null);
      try {
        const decided = await A.postJson(`/api/v1/reviews/${A.casePath(key)}/decide`, payload);
        const c = decided.classification;
        notify(`已分类 Decided: ${key} → ${c.archival_code}（${c.decided_by}）`);
        form.closest("details").remove();
        root.dataset.decided = key;
      } catch (err) {
        A.showBanner(error, `未能决定 Not decided: ${A.explain(err)}`);
        submit.disabled = false;
      }
    });
    return form;
  }

  function reviewEntry(review) {
    const body = el("div", { className: "body" }, el("p", { className: "muted" }, "载入选项… loading the choices…"));
    const details = el(
      "details",
      { className: "entry", "data-testid": "review-entry", "data-case-key": review.case_key },
      el(
        "summary",
        { "data-testid": "review-open" },
        el("span", {}, el("code", {}, review.case_key)),
        el("span", {}, review.case_title || "", el("div", { className: "muted" }, `${review.item_name || ""} ${review.item_code || ""}`)),
        el("span", {}, review.reason || ""),
        el("span", { className: "muted" }, A.formatTime(review.queued_at))
      ),
      body
    );
    let loaded = false;
    details.addEventListener("toggle", async () => {
      if (!details.open || loaded) return;
      loaded = true;
      try {
        const choices = await A.apiJson(`/api/v1/reviews/${A.casePath(review.case_key)}/choices`);
        body.replaceChildren(decisionForm(review, choices));
        const first = body.querySelector("input[type=radio][data-testid=rule-choice]");
        if (first) first.focus();
      } catch (err) {
        loaded = false;
        body.replaceChildren(el("p", { className: "banner" }, `无法载入选项 Could not load the choices: ${A.explain(err)}`));
      }
    });
    return details;
  }

  // --- quarantine --------------------------------------------------------------------------------------

  function failuresByFile(failures) {
    const groups = new Map();
    for (const f of failures) {
      const name = f.file_name || "（整个案件 the case as a whole）";
      if (!groups.has(name)) groups.set(name, []);
      groups.get(name).push(f);
    }
    return groups;
  }

  function resolveForm(entry) {
    const id = `resolution-${entry.case_key}`;
    const noteId = `resolve-note-${entry.case_key}`;
    const error = el("p", { className: "banner", role: "alert", hidden: true });
    const submit = el("button", { type: "submit", disabled: !A.caller.mayAct }, "确认处理 Resolve");
    const form = el(
      "form",
      { "data-testid": "resolve-form" },
      el("h3", {}, A.bi("人工处理", "Resolve by hand (no corrected revision will come)")),
      el("label", { for: id }, A.bi("处理方式", "resolution")),
      el(
        "select",
        { id, name: "resolution" },
        el("option", { value: "withdrawn" }, "申请人撤回 withdrawn"),
        el("option", { value: "settled_outside" }, "系统外办结 settled outside"),
        el("option", { value: "duplicate" }, "重复 duplicate"),
        el("option", { value: "other" }, "其他 other (note required)")
      ),
      el("div", { className: "form-row" }, el("label", { for: noteId }, A.bi("说明", "note")), el("textarea", { id: noteId, name: "note", rows: 2, maxlength: 2000 })),
      error,
      el("div", { className: "form-row" }, submit)
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      try {
        await A.postJson(`/api/v1/quarantine/${A.casePath(entry.case_key)}/resolve`, {
          resolution: form.elements.resolution.value,
          note: form.elements.note.value.trim() || null,
        });
        notify(`已处理 Resolved: ${entry.case_key}`);
        form.closest("details").remove();
      } catch (err) {
        A.showBanner(error, `处理失败 Could not resolve: ${A.explain(err)}`);
        submit.disabled = false;
      }
    });
    return form;
  }

  function quarantineEntry(entry) {
    const groups = failuresByFile(entry.failures || []);
    const body = el(
      "div",
      { className: "body" },
      el("p", { className: "muted" }, `${entry.department_name || "未知部门 unknown department"} · 事项 item ${entry.item_code || "—"} · 修订 revision ${entry.revision}`),
      [...groups.entries()].map(([file, failures]) =>
        el(
          "div",
          { "data-testid": "failure-file", "data-file": file },
          el("h3", {}, A.bi("文件", "file"), " ", el("code", {}, file)),
          el(
            "table",
            {},
            el("thead", {}, el("tr", {}, el("th", {}, "检测项 Check"), el("th", {}, "属性 Property"), el("th", {}, "结果 Outcome"), el("th", {}, "需整改 What to fix"), el("th", {}, "细节 Details"))),
            el(
              "tbody",
              {},
              failures.map((f) =>
                el(
                  "tr",
                  { "data-testid": "failure", "data-code": f.code },
                  el("td", {}, el("code", {}, f.code)),
                  el("td", {}, A.label("property", f.property)),
                  el("td", {}, A.pill("outcome", f.outcome)),
                  el("td", {}, f.reason_zh || "", f.reason_en ? el("div", { className: "en" }, f.reason_en) : null),
                  el("td", { className: "mono details" }, Object.entries(f.details || {}).map(([k, v]) => `${k}: ${v}`).join("\n") || "—")
                )
              )
            )
          )
        )
      ),
      resolveForm(entry)
    );
    return el(
      "details",
      { className: "entry", "data-testid": "quarantine-entry", "data-case-key": entry.case_key },
      el(
        "summary",
        { "data-testid": "quarantine-open" },
        el("span", {}, el("code", {}, entry.case_key)),
        el("span", {}, entry.case_title || "", el("div", { className: "muted" }, (entry.failures || []).map((f) => f.code).join(", "))),
        el("span", {}, entry.source_platform),
        el("span", { className: "muted" }, A.formatTime(entry.opened_at))
      ),
      body
    );
  }

  // --- loading -----------------------------------------------------------------------------------------

  async function loadQueue(name, path, render, more) {
    const list = $(`${name === "reviews" ? "review" : "quarantine"}-list`);
    const query = new URLSearchParams({ limit: "50" });
    if (more && cursors[name]) query.set("cursor", cursors[name]);
    const data = await A.apiJson(`${path}?${query}`);
    cursors[name] = data.next_cursor;
    if (!more) list.replaceChildren();
    list.append(...data.items.map(render));
    $(`${name}-empty`).hidden = list.children.length > 0;
    $(`${name}-more`).hidden = !data.next_cursor;
    $(`${name}-count`).textContent = `${list.children.length}${data.next_cursor ? "+" : ""}`;
  }

  async function load() {
    try {
      await Promise.all([
        loadQueue("reviews", "/api/v1/reviews", reviewEntry, false),
        loadQueue("quarantine", "/api/v1/quarantine", quarantineEntry, false),
      ]);
      root.dataset.state = "ok";
    } catch (err) {
      root.dataset.state = "error";
      fail(`无法载入队列 Could not load the queues: ${A.explain(err)}`);
    }
  }

  $("reviews-more").addEventListener("click", () => loadQueue("reviews", "/api/v1/reviews", reviewEntry, true).catch((e) => fail(A.explain(e))));
  $("quarantine-more").addEventListener("click", () => loadQueue("quarantine", "/api/v1/quarantine", quarantineEntry, true).catch((e) => fail(A.explain(e))));

  // ?open=CASE_KEY opens that entry (a link from the dashboard or a colleague).
  load().then(() => {
    const wanted = new URLSearchParams(window.location.search).get("open");
    const entry = wanted && document.querySelector(`details[data-case-key="${CSS.escape(wanted)}"]`);
    if (entry) { entry.open = true; entry.querySelector("summary").focus(); }
  });
})();
