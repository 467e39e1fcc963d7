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
  var wanted = /^#query=([A-Za-z0-9_-]+)$/.exec(window.location.hash);  // /query#query=NAME opens that tab
  settings.tabs.forEach(function (tab) {
    var added = yasgui.addTab(false, { name: tab.name, yasqe: { value: tab.query } });
    if (wanted && wanted[1] === tab.id) { yasgui.selectTabId(added.getId()); }
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
  // YASGUI's own English words, in the page's language (attributes and text alike, as YASGUI draws them).
  var strings = settings.editor.strings;
  var patterns = settings.editor.patterns.map(function (entry) { return [new RegExp(entry[0]), entry[1]]; });
  function translate(text) {
    var trimmed = text.trim();
    if (Object.prototype.hasOwnProperty.call(strings, trimmed)) { return text.replace(trimmed, strings[trimmed]); }
    for (var i = 0; i < patterns.length; i++) {
      var match = patterns[i][0].exec(trimmed);
      if (match) {
        return patterns[i][1].replace(/\{([a-z]+)\}/g, function (all, name) {
          var value = match.groups[name];
          return settings.editor.lang === "fr" && /^[0-9.]+$/.test(value) ? value.replace(".", ",") : value;
        });
      }
    }
    return text;
  }
  function speak() {
    Array.prototype.forEach.call(holder.querySelectorAll("[title], [aria-label], [placeholder]"), function (el) {
      ["title", "aria-label", "placeholder"].forEach(function (name) {
        var value = el.getAttribute(name);
        if (value) {
          var said = translate(value);
          if (said !== value) { el.setAttribute(name, said); }
        }
      });
    });
    var walker = document.createTreeWalker(holder, NodeFilter.SHOW_TEXT);
    var node = walker.nextNode();
    while (node) {
      if (node.parentNode && !node.parentNode.closest(".CodeMirror, table.dataTable tbody")) {
        var said = translate(node.nodeValue);
        if (said !== node.nodeValue) { node.nodeValue = said; }
      }
      node = walker.nextNode();
    }
  }
  var pending = false;
  function later() {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; tidy(); speak(); });
  }
  tidy();
  speak();
  new MutationObserver(later).observe(holder, { childList: true, subtree: true, characterData: true });
  form.hidden = true;
  var results = document.getElementById("sparql-results");
  if (results) { results.hidden = true; }
  var note = document.getElementById("yasgui-note");
  if (note) { note.hidden = false; }
  holder.setAttribute("data-ready", "true");
})();
