/* Carnet form embed: loads a form into each <div data-carnet-form="slug">,
   carries the page's UTM values (and the website visitor's id, when Carnet's
   tracker runs on the page) along, and posts it back without leaving the page. */
(function () {
  "use strict";
  var me = document.currentScript;
  var m = me && me.src.match(/^(.*)\/f\/([^/?#]+)\/embed\.js/);
  if (!m) return;
  var base = m[1];
  function show(form, answer) {
    var errs = answer.errors || {};
    form.querySelectorAll("[data-error-for]").forEach(function (p) {
      var msg = errs[p.getAttribute("data-error-for")];
      p.textContent = msg || "";
      p.hidden = !msg;
      p.parentNode.classList.toggle("has-error", !!msg);
    });
    var status = form.querySelector("[data-status]");
    if (answer.ok) {
      if (answer.redirect) { window.location.href = answer.redirect; return; }
      form.innerHTML = "";
      var done = document.createElement("p");
      done.setAttribute("role", "status");
      done.style.whiteSpace = "pre-line";
      done.textContent = answer.message || "";
      form.appendChild(done);
      if (answer.download) {
        var a = document.createElement("a");
        a.href = answer.download;
        a.textContent = "⬇ " + form.getAttribute("data-download-label");
        form.appendChild(a);
      }
    } else if (status) {
      status.textContent = answer.message || errs.origin || "";
      status.hidden = !status.textContent;
    }
  }
  function wire(form) {
    if (!form) return;
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      var data = new FormData(form);
      // The website visitor (Carnet's tracker on this site): their visits join the contact.
      try { var v = window.localStorage.getItem("carnet_vid"); if (v) data.set("carnet_v", v); } catch (x) {}
      fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(data),
        headers: { Accept: "application/json" },
        credentials: "omit"
      }).then(function (r) { return r.json(); })
        .then(function (a) { show(form, a); })
        .catch(function () { show(form, { ok: false, message: form.getAttribute("data-error-label") }); })
        .then(function () { if (button) button.disabled = false; });
    });
  }
  document.querySelectorAll("[data-carnet-form]").forEach(function (box) {
    var slug = box.getAttribute("data-carnet-form") || m[2];
    var q = window.location.search.replace(/^\?/, "");
    fetch(base + "/f/" + encodeURIComponent(slug) + "?fragment=1" + (q ? "&" + q : ""), { credentials: "omit" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) { box.innerHTML = html; wire(box.querySelector("form")); });
  });
})();
