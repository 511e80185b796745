// The search page: one box over titles, applicants, items and archival codes, the API's filters, results
// paged by the API's cursor, and the CSV export of the same search. The filters live in the address, so a
// search can be bookmarked, sent to a colleague and gone back to.
"use strict";

(function () {
  const A = window.Archive;
  const $ = (id) => document.getElementById(id);
  const root = $("search-page");
  const form = $("search-form");
  const FILTERS = ["q", "item", "department", "platform", "from", "to", "retention", "category"];
  const PAGE_SIZE = 50;
  let cursors = [null]; // the cursor of each page shown so far: going back needs no extra state on the server
  let running = 0;

  A.drawHeader("search");

  function filtersFromForm() {
    const params = new URLSearchParams();
    for (const name of FILTERS) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    }
    return params;
  }

  function fillForm(params) {
    for (const name of FILTERS) form.elements[name].value = params.get(name) || "";
  }

  const el = A.el;

  function applicantCell(r) {
    // The ID number exactly as the API discloses it to this key (masked unless the role may see it).
    const id = r.applicant_id_number
      ? el("div", { className: "muted mono", "data-testid": "applicant-id" }, r.applicant_id_number)
      : null;
    return el("td", {}, r.applicant_name || "—", id);
  }

  function row(r) {
    const link = el("a", { href: `/records/${A.casePath(r.case_key)}`, "data-testid": "record-link" }, r.case_title);
    return el(
      "tr",
      { "data-testid": "result-row", "data-case-key": r.case_key },
      el("td", { className: "nowrap" }, el("code", {}, r.archival_code || "—")),
      el("td", {}, link),
      applicantCell(r),
      el("td", {}, r.item_name, " ", el("span", { className: "muted" }, r.item_code)),
      el("td", { className: "nowrap" }, A.formatDate(r.completed_at)),
      el("td", { className: "nowrap" }, A.formatDate(r.archived_at)),
      el("td", { className: "nowrap", "data-value": r.retention }, A.valueText("retention", r.retention))
    );
  }

  async function search(page) {
    const params = filtersFromForm();
    $("export").href = `/api/v1/records/export.csv?${params}`;
    const query = new URLSearchParams(params);
    query.set("limit", String(PAGE_SIZE));
    if (cursors[page]) query.set("cursor", cursors[page]);
    const ticket = ++running; // an older answer arriving late never replaces a newer one
    root.dataset.state = "loading";
    $("results").setAttribute("aria-busy", "true");
    $("result-summary").textContent = "检索中… searching…";
    A.showBanner($("error-banner"), null);
    const started = performance.now();
    try {
      const data = await A.apiJson(`/api/v1/records?${query}`);
      if (ticket !== running) return;
      cursors = cursors.slice(0, page + 1);
      cursors[page + 1] = data.next_cursor;
      $("result-rows").replaceChildren(...data.items.map(row));
      $("no-results").hidden = data.items.length > 0;
      const ms = Math.round(performance.now() - started);
      $("result-summary").textContent =
        `第 ${page + 1} 页 ${data.items.length} 条${data.next_cursor ? "，还有更多" : ""} · page ${page + 1}: ` +
        `${data.items.length} record(s)${data.next_cursor ? ", more follow" : ""} (${ms} ms)`;
      $("page-number").textContent = `第 ${page + 1} 页 page ${page + 1}`;
      $("previous-page").disabled = page === 0;
      $("next-page").disabled = !data.next_cursor;
      root.dataset.page = String(page);
      root.dataset.state = "ok";
      window.history.replaceState(null, "", `/records${params.toString() ? "?" + params : ""}`);
    } catch (err) {
      if (ticket !== running) return;
      root.dataset.state = "error";
      $("result-summary").textContent = "";
      A.showBanner($("error-banner"), `检索失败 Search failed: ${A.explain(err)}`);
    } finally {
      if (ticket === running) $("results").setAttribute("aria-busy", "false");
    }
  }

  let page = 0;
  form.addEventListener("submit", (event) => {
    event.preventDefault(); // Enter in any field submits: a new search starts at its first page
    cursors = [null];
    page = 0;
    search(page);
  });
  $("next-page").addEventListener("click", () => { page += 1; search(page); });
  $("previous-page").addEventListener("click", () => { page = Math.max(0, page - 1); search(page); });

  const initial = new URLSearchParams(window.location.search);
  fillForm(initial);
  search(0); // the newest records the key may see, or the search in the address
})();
