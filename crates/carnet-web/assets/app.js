// Carnet's small enhancements. Every page works without them.
(function () {
  "use strict";

  // Ask before destructive actions: <form data-confirm="...">.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) e.preventDefault();
  });

  // Mobile menu.
  var toggle = document.querySelector(".menu-toggle");
  if (toggle) toggle.addEventListener("click", function () {
    var nav = document.getElementById(toggle.getAttribute("aria-controls"));
    var open = nav.classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  // Suggestions from the search API as the user types: data-suggest="all" opens
  // the record, "account"/"contact" fills the input with "#id name".
  function attach(input) {
    var kind = input.dataset.suggest, list = null, timer = null, seq = 0;
    function close() { if (list) { list.remove(); list = null; } }
    function show(items) {
      close();
      if (kind !== "all") items = items.filter(function (h) { return h.entity === kind; });
      if (!items.length) return;
      list = document.createElement("ul");
      list.className = "suggest";
      list.setAttribute("role", "listbox");
      items.slice(0, 10).forEach(function (h) {
        var li = document.createElement("li");
        var path = h.entity === "account" ? "/accounts/" : "/contacts/";
        var el;
        if (kind === "all") { el = document.createElement("a"); el.href = path + h.id; }
        else {
          el = document.createElement("button"); el.type = "button";
          el.addEventListener("mousedown", function (ev) { ev.preventDefault(); input.value = "#" + h.id + " " + h.name; close(); });
        }
        el.textContent = h.name + " ";
        if (h.detail) { var s = document.createElement("small"); s.textContent = h.detail; el.appendChild(s); }
        li.appendChild(el);
        list.appendChild(li);
      });
      input.insertAdjacentElement("afterend", list);
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 2 || q.charAt(0) === "#") { close(); return; }
      timer = setTimeout(function () {
        var mine = ++seq;
        fetch("/api/v1/search?limit=10&q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { data: [] }; })
          .then(function (j) { if (mine === seq) show(j.data || []); })
          .catch(close);
      }, 150);
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
    input.addEventListener("keydown", function (e) { if (e.key === "Escape") close(); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-suggest]"), attach);
})();
