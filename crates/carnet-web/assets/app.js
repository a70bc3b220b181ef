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
        var path = { account: "/accounts/", contact: "/contacts/", opportunity: "/opportunities/" }[h.entity] || "/contacts/";
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

  // Pipeline board: drag a card onto a column (or the won/lost zones). The drop
  // submits the card's own move form, so the server applies the same rules as
  // without JavaScript (and opens the missing fields when a rule applies).
  var board = document.querySelector("[data-board]");
  if (board) {
    document.documentElement.classList.add("js");
    var dragged = null;
    document.addEventListener("dragstart", function (e) {
      var card = e.target.closest && e.target.closest(".dealcard[draggable=true]");
      if (!card) return;
      dragged = card;
      card.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", card.dataset.id);
    });
    document.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("dragging");
      dragged = null;
    });
    Array.prototype.forEach.call(document.querySelectorAll(".column, .dropzone"), function (zone) {
      zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("over"); });
      zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
      zone.addEventListener("drop", function (e) {
        e.preventDefault();
        zone.classList.remove("over");
        var id = e.dataTransfer.getData("text/plain");
        var card = document.querySelector('.dealcard[data-id="' + id + '"]');
        if (!card) return;
        var form = card.querySelector(".moveform");
        var select = form.querySelector("select[name=stage]");
        if (select.value === zone.dataset.stage) return;
        select.value = zone.dataset.stage;
        form.submit();
      });
    });
  }
})();
