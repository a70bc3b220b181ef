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

  // Agenda: drag an item to another day or diary (week, month), or move it in
  // time and resize it by its lower edge (day view, 15-minute steps). Each drop
  // posts the move form the server also takes from the action's edit page.
  var agenda = document.querySelector("[data-agenda]");
  function post(url, fields) {
    var f = document.createElement("form");
    f.method = "post";
    f.action = url;
    fields.csrf = agenda.dataset.csrf;
    fields.back = agenda.dataset.back;
    Object.keys(fields).forEach(function (k) {
      var i = document.createElement("input");
      i.type = "hidden"; i.name = k; i.value = fields[k];
      f.appendChild(i);
    });
    document.body.appendChild(f);
    f.submit();
  }
  function hhmm(min) {
    var h = Math.floor(min / 60), m = min % 60;
    return (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m;
  }
  if (agenda) {
    var moving = null;
    document.addEventListener("dragstart", function (e) {
      var it = e.target.closest && e.target.closest(".item[draggable=true]");
      if (!it) return;
      moving = it;
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", it.dataset.move);
    });
    Array.prototype.forEach.call(agenda.querySelectorAll("td[data-drop]"), function (cell) {
      cell.addEventListener("dragover", function (e) { if (moving) { e.preventDefault(); cell.classList.add("over"); } });
      cell.addEventListener("dragleave", function () { cell.classList.remove("over"); });
      cell.addEventListener("drop", function (e) {
        e.preventDefault();
        cell.classList.remove("over");
        if (!moving || moving.closest("td") === cell) return;
        var fields = { day: cell.dataset.day };
        if (cell.dataset.user) fields.assignee = cell.dataset.user;
        post(moving.dataset.move, fields);
      });
    });
    // Day view: pointer drag in time (and across diaries), resize by the edge.
    var px = parseInt(agenda.dataset.hourPx, 10) / 60, first = parseInt(agenda.dataset.firstHour, 10) * 60;
    agenda.addEventListener("pointerdown", function (e) {
      var it = e.target.closest(".item.placed[data-move]");
      if (!it || e.target.closest("a, button")) return;
      e.preventDefault();
      var resize = e.target.classList.contains("resize");
      var y0 = e.clientY, start = parseInt(it.dataset.start, 10), dur = parseInt(it.dataset.dur, 10);
      var col = it.parentNode, now = { start: start, dur: dur, col: col };
      it.classList.add("dragging");
      function at(ev) {
        var steps = Math.round((ev.clientY - y0) / px / 15) * 15;
        if (resize) {
          now.dur = Math.max(15, dur + steps);
          it.style.height = (now.dur * px) + "px";
        } else {
          now.start = Math.min(24 * 60 - 15, Math.max(0, start + steps));
          it.style.top = ((now.start - first) * px) + "px";
          var under = document.elementFromPoint(ev.clientX, ev.clientY);
          var c = under && under.closest(".daycol");
          if (c && c !== now.col) { now.col = c; c.appendChild(it); }
        }
        it.querySelector(".time").textContent = hhmm(now.start) + " – " + hhmm(now.start + now.dur);
      }
      function up(ev) {
        document.removeEventListener("pointermove", at);
        document.removeEventListener("pointerup", up);
        at(ev);
        if (now.start === start && now.dur === dur && now.col === col) { it.classList.remove("dragging"); return; }
        post(it.dataset.move, {
          starts_at: now.col.dataset.day + "T" + hhmm(now.start),
          duration: now.dur,
          assignee: now.col.dataset.user
        });
      }
      document.addEventListener("pointermove", at);
      document.addEventListener("pointerup", up);
    });
  }

  // Dashboards: PNG export draws the widget's SVG on a canvas in the browser.
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("[data-png]");
    if (!a) return;
    e.preventDefault();
    var svg = document.querySelector("#" + a.dataset.png + " svg");
    if (!svg) return;
    var box = svg.viewBox.baseVal, scale = 2;
    var img = new Image();
    img.onload = function () {
      var c = document.createElement("canvas");
      c.width = box.width * scale; c.height = box.height * scale;
      var g = c.getContext("2d");
      g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height);
      g.drawImage(img, 0, 0, c.width, c.height);
      var link = document.createElement("a");
      link.download = (a.dataset.name || "chart").replace(/[^\w-]+/g, "-") + ".png";
      link.href = c.toDataURL("image/png");
      link.click();
    };
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(new XMLSerializer().serializeToString(svg));
  });

  // Reminders: the bell shows how many are due, checked every minute.
  var bell = document.querySelector("[data-reminders]");
  if (bell && window.fetch) {
    var check = function () {
      fetch("/api/v1/me/reminders", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { data: [] }; })
        .then(function (j) {
          var n = j.data.length;
          bell.querySelector("[data-count]").textContent = n ? String(n) : "";
          bell.classList.toggle("due", n > 0);
          bell.title = n ? j.data.map(function (a) { return a.subject; }).join("\n") : "";
        })
        .catch(function () {});
    };
    check();
    setInterval(check, 60000);
  }
})();
