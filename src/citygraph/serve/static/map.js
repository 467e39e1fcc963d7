// The interactive map (home page: the 24 authorities; an authority's page: its seat). Leaflet and MarkerCluster
// come from this server; the base layer is Natural Earth's outline of France and its neighbours, shipped with the
// package. Web tiles (OpenStreetMap) load only if the reader ticks the box. Data and words come from the page
// (<script type="application/json" id="map-data">): nothing is evaluated.
(function () {
  "use strict";
  var element = document.getElementById("map");
  var source = document.getElementById("map-data");
  if (!element || !source || !window.L) { return; }
  var data = JSON.parse(source.textContent);
  var words = data.labels;
  var L = window.L;
  var france = L.latLngBounds([41.3, -5.2], [51.1, 9.6]);
  var map = L.map(element, { zoomControl: false, zoomSnap: 0.5, minZoom: 4, maxZoom: 13,
                             maxBounds: france.pad(0.6), attributionControl: true });
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  L.control.zoom({ zoomInTitle: words.zoom_in, zoomOutTitle: words.zoom_out }).addTo(map);
  map.createPane("base");
  map.getPane("base").style.zIndex = 250;

  var base = null;
  fetch(element.getAttribute("data-geometry")).then(function (answer) {
    if (!answer.ok) { throw new Error("map geometry: HTTP " + answer.status); }
    return answer.json();
  }).then(function (geometry) {
    base = L.geoJSON(geometry, {
      pane: "base", interactive: false, attribution: words.base,
      style: function (feature) {
        return feature.properties.france
          ? { color: "#8197ad", weight: 1, fillColor: "#e6edf3", fillOpacity: 1, className: "land-france" }
          : { color: "#b7c2cc", weight: 0.8, fillColor: "#f4f5f6", fillOpacity: 1, className: "land-other" };
      }
    }).addTo(map);
  });

  function pin(point) {
    var icon = L.divIcon({ className: "pin " + (point.lead ? "pin-lead" : "pin-none"), iconSize: [16, 16],
                           iconAnchor: [8, 8], html: "" });
    var marker = L.marker([point.lat, point.long], { icon: icon, title: point.name, alt: point.name,
                                                     keyboard: Boolean(point.href), interactive: Boolean(point.href) });
    var label = document.createElement("span");  // a text node: a name is never read as markup
    label.textContent = point.name;
    marker.bindTooltip(label, { direction: "right", offset: [8, 0], className: "map-label" });
    if (point.href) {
      marker.on("click", function () { window.location.assign(point.href); });
      marker.on("keypress", function (event) {
        if (event.originalEvent.key === "Enter") { window.location.assign(point.href); }
      });
    }
    return marker;
  }

  var markers = data.points.map(pin);
  var layer;
  if (data.zoom) {  // one authority: its seat, no clusters
    layer = L.layerGroup(markers).addTo(map);
    map.setView([data.points[0].lat, data.points[0].long], data.zoom);
    markers[0].openTooltip();
  } else {
    layer = L.markerClusterGroup({
      maxClusterRadius: 28, showCoverageOnHover: false, spiderfyOnMaxZoom: true,
      iconCreateFunction: function (cluster) {
        var count = cluster.getChildCount();
        return L.divIcon({ className: "cluster", iconSize: [30, 30], html: "<span>" + count + "</span>" });
      }
    });
    layer.on("clusterclick", function (event) { event.layer.zoomToBounds({ padding: [30, 30] }); });
    layer.addLayers(markers);
    map.addLayer(layer);
    map.fitBounds(france);
    var legend = L.control({ position: "bottomleft" });
    legend.onAdd = function () {
      var box = L.DomUtil.create("div", "map-legend");
      var title = L.DomUtil.create("strong", "", box);
      title.textContent = words.legend;
      [["pin-lead", words.with_lead], ["pin-none", words.without_lead]].forEach(function (entry) {
        var line = L.DomUtil.create("div", "", box);
        L.DomUtil.create("span", "swatch " + entry[0], line);
        line.appendChild(document.createTextNode(" " + entry[1]));
      });
      var points = L.DomUtil.create("div", "points", box);  // what a point is: the seat, not the territory
      points.textContent = words.points;
      return box;
    };
    legend.addTo(map);
  }
  // Cluster icons carry their title in the page's language (set after Leaflet draws them).
  function titleClusters() {
    var icons = element.querySelectorAll(".cluster");
    Array.prototype.forEach.call(icons, function (icon) {
      var count = icon.textContent;
      icon.setAttribute("title", words.cluster.replace("{count}", count));
      icon.setAttribute("aria-label", words.cluster.replace("{count}", count));
    });
  }
  // Names stay on screen once the reader has zoomed in enough for them not to overlap.
  function showNames() {
    var permanent = data.zoom || map.getZoom() >= 7;
    markers.forEach(function (marker) {
      var name = marker.getTooltip().getContent();
      marker.unbindTooltip();
      marker.bindTooltip(name, { direction: "right", offset: [8, 0], className: "map-label", permanent: permanent });
    });
    titleClusters();
  }
  map.on("zoomend", showNames);
  layer.on("animationend", titleClusters);
  map.whenReady(titleClusters);
  showNames();

  // Web tiles, only on request.
  var tiles = null;
  var Switch = L.Control.extend({
    onAdd: function () {
      var box = L.DomUtil.create("label", "map-tiles");
      var input = L.DomUtil.create("input", "", box);
      input.type = "checkbox";
      input.id = "map-tiles";
      box.appendChild(document.createTextNode(" " + words.tiles));
      L.DomEvent.disableClickPropagation(box);
      input.addEventListener("change", function () {
        if (input.checked) {
          tiles = tiles || L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                                       { maxZoom: 19, attribution: "© OpenStreetMap" });
          tiles.addTo(map);
          if (base) { map.removeLayer(base); }
        } else {
          if (tiles) { map.removeLayer(tiles); }
          if (base) { base.addTo(map); }
        }
      });
      return box;
    }
  });
  new Switch({ position: "topright" }).addTo(map);
  element.setAttribute("data-ready", "true");
})();
