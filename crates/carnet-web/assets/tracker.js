/* Carnet website tracker: <script async src="…/t/carnet.js" data-site="KEY"></script>
   Add data-consent="wait" to record nothing until carnet("consent", true).
   Honours Do Not Track and Global Privacy Control; stores one random id. */
(function (w, d, n) {
  "use strict";
  var me = d.currentScript, site = me && me.getAttribute("data-site");
  var m = me && me.src.match(/^(.*)\/t\/carnet\.js/);
  var q = (w.carnet && w.carnet.q) || [];
  if (!site || !m || n.doNotTrack == "1" || w.doNotTrack == "1" || n.globalPrivacyControl) {
    w.carnet = function () {};
    return;
  }
  var base = m[1], ls = w.localStorage, known = null, last = null;
  function get(k) { try { return ls.getItem(k); } catch (e) { return null; } }
  function put(k, v) { try { ls.setItem(k, v); } catch (e) {} }
  var wait = me.getAttribute("data-consent") == "wait";
  function ok() { return !wait || get("carnet_consent") == "1"; }
  function vid() {
    var v = get("carnet_vid");
    if (!v) {
      var a = new Uint8Array(16), s = "", c = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
      w.crypto.getRandomValues(a);
      for (var i = 0; i < a.length; i++) s += c[a[i] & 63];
      put("carnet_vid", v = s);
    }
    return v;
  }
  // A tracked email link names its reader once; the address is cleaned.
  var u = new URL(w.location.href);
  if (u.searchParams.has("carnet_c")) {
    known = u.searchParams.get("carnet_c");
    u.searchParams.delete("carnet_c");
    try { w.history.replaceState(w.history.state, "", u.href); } catch (e) {}
  }
  function hit() {
    if (!ok() || last == w.location.href) return;
    last = w.location.href;
    var b = { site: site, vid: vid(), url: last, title: d.title };
    if (d.referrer) b.ref = d.referrer;
    if (wait) b.consent = true;
    if (known) { b.known = known; known = null; }
    var body = JSON.stringify(b), to = base + "/t/hit";
    if (!(n.sendBeacon && n.sendBeacon(to, body)))
      fetch(to, { method: "POST", body: body, keepalive: true, credentials: "omit" }).catch(function () {});
  }
  // Links to Carnet's hosted forms carry the visitor along.
  d.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[href]");
    if (a && ok() && a.href.indexOf(base + "/f/") == 0) {
      var l = new URL(a.href);
      l.searchParams.set("carnet_v", vid());
      a.href = l.href;
    }
  }, true);
  var push = w.history.pushState;
  w.history.pushState = function () { push.apply(this, arguments); hit(); };
  w.addEventListener("popstate", hit);
  w.carnet = function (cmd, v) {
    if (cmd == "consent") { put("carnet_consent", v ? "1" : "0"); if (v) hit(); else last = null; }
  };
  for (var i = 0; i < q.length; i++) w.carnet.apply(null, q[i]);
  hit();
})(window, document, navigator);
