// The SPARQL page's editor: YASGUI (served from this server, /static/yasgui/) on the /sparql endpoint, with one
// tab per named query. Nothing calls out: no prefix.cc lookups, no LOV autocompletion, no CORS probe elsewhere,
// nothing kept in the browser's storage. Without JavaScript (or if YASGUI fails) the plain form stays and shows
// its results as a table in the page.
(function () {
  "use strict";
  var holder = document.getElementById("yasgui");
  var config = document.getElementById("yasgui-config");
  var form = document.getElementById("sparql-form");
  if (!holder || !config || !form || typeof window.Yasgui !== "function") { return; }
  var settings = JSON.parse(config.textContent);
  var endpoint = new URL(settings.editor.endpoint, window.location.href).href;
  var textarea = document.getElementById("sparql-query");
  var yasgui = new window.Yasgui(holder, {
    requestConfig: { endpoint: endpoint, method: "POST", acceptHeaderSelect: "application/sparql-results+json" },
    copyEndpointOnNewTab: true,
    endpointCatalogueOptions: { getData: function () { return [{ endpoint: endpoint }]; } },
    persistenceId: null,
    populateFromUrl: false,
    autofocus: false,
    yasqe: { autocompleters: ["variables", "prefixes"], prefixCcApi: null, resizeable: true,
             editorHeight: "260px" },
    yasr: { pluginOrder: ["table", "response"], defaultPlugin: "table", prefixes: settings.editor.prefixes }
  });
  var first = yasgui.getTab();
  first.setName(settings.editor.example);
  first.setQuery(textarea.value);
  settings.tabs.forEach(function (tab) {
    yasgui.addTab(false, { name: tab.name, yasqe: { value: tab.query } });
  });
  // Accessible names in the page's language, and no ARIA reference to a panel YASGUI has not drawn yet.
  var words = settings.editor.words;
  function tidy() {
    Array.prototype.forEach.call(holder.querySelectorAll(".tabsList a[role=tab]"), function (tab) {
      var panel = tab.getAttribute("aria-controls");
      if (panel && !document.getElementById(panel)) { tab.removeAttribute("aria-controls"); }
    });
    Array.prototype.forEach.call(holder.querySelectorAll(".tabsList input[type=text]"), function (input) {
      input.setAttribute("aria-label", words.tab_name);
    });
    Array.prototype.forEach.call(holder.querySelectorAll(".closeTab"), function (close) {
      close.setAttribute("title", words.close_tab);
    });
    Array.prototype.forEach.call(holder.querySelectorAll("input.autocomplete"), function (input) {
      input.setAttribute("aria-label", words.endpoint);
    });
    Array.prototype.forEach.call(holder.querySelectorAll(".CodeMirror textarea"), function (area) {
      area.setAttribute("aria-label", words.query);
    });
    Array.prototype.forEach.call(holder.querySelectorAll(".tabsList .addTab"), function (add) {
      add.setAttribute("aria-label", words.new_tab);
      add.setAttribute("title", words.new_tab);
      add.setAttribute("role", "tab");
    });
  }
  tidy();
  yasgui.on("tabChange", function () { window.setTimeout(tidy, 0); });
  yasgui.on("tabAdd", function () { window.setTimeout(tidy, 0); });
  yasgui.on("queryResponse", function () { window.setTimeout(tidy, 0); });
  form.hidden = true;
  var results = document.getElementById("sparql-results");
  if (results) { results.hidden = true; }
  var note = document.getElementById("yasgui-note");
  if (note) { note.hidden = false; }
  holder.setAttribute("data-ready", "true");
})();
