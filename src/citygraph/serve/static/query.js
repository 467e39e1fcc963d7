// Progressive enhancement of the SPARQL page: the plain form works without this script (and offline).
// YASGUI is fetched from its CDN only when the user asks for it; if that fails, the plain form stays.
(function () {
  "use strict";
  var button = document.getElementById("yasgui-button");
  var form = document.getElementById("sparql-form");
  var textarea = document.getElementById("sparql-query");
  if (!button || !form || !textarea) { return; }
  var BASE = "https://cdn.jsdelivr.net/npm/@triply/yasgui@4.2.28/build/";
  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = BASE + "yasgui.min.css";
    document.head.appendChild(css);
    var script = document.createElement("script");
    script.src = BASE + "yasgui.min.js";
    script.onload = function () {
      if (typeof window.Yasgui !== "function") { button.disabled = false; return; }
      var endpoint = new URL(form.getAttribute("action"), window.location.href).href;
      var yasgui = new window.Yasgui(document.getElementById("yasgui"), {
        requestConfig: { endpoint: endpoint, method: "POST" },
        copyEndpointOnNewTab: false
      });
      yasgui.getTab().setQuery(textarea.value);
      form.hidden = true;
      button.hidden = true;
    };
    script.onerror = function () { button.disabled = false; };
    document.head.appendChild(script);
  });
})();
