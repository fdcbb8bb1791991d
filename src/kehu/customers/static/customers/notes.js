// The @mention picker of the note box: typing @ and a few letters asks the server (the suggestions
// partial) for colleagues; choosing one inserts the structured token @[Name](user:ID).
// Without JavaScript the note box still works: "@email" typed by hand mentions that colleague.
(function () {
  "use strict";
  var TRIGGER = /(^|\s)@([^\s@\[\]()]{0,30})$/;

  function setup(box) {
    if (box.dataset.mentionReady) { return; }
    box.dataset.mentionReady = "1";
    var input = box.querySelector("[data-mention-input]");
    var list = box.querySelector("[data-mention-list]");
    if (!input || !list) { return; }
    var url = box.getAttribute("data-mention-url");
    var timer = null;
    var request = 0;
    var active = -1;

    function hide() { list.classList.add("d-none"); list.innerHTML = ""; active = -1; }
    function options() { return Array.prototype.slice.call(list.querySelectorAll("[data-mention-token]")); }
    function highlight(index) {
      var items = options();
      items.forEach(function (item, i) { item.classList.toggle("active", i === index); });
      active = index;
    }
    function query() {
      var before = input.value.slice(0, input.selectionStart);
      var match = TRIGGER.exec(before);
      return match ? match[2] : null;
    }
    function choose(item) {
      var caret = input.selectionStart;
      var before = input.value.slice(0, caret);
      var match = TRIGGER.exec(before);
      if (!match) { hide(); return; }
      var start = caret - match[2].length - 1;
      var token = item.getAttribute("data-mention-token") + " ";
      input.value = input.value.slice(0, start) + token + input.value.slice(caret);
      var position = start + token.length;
      input.setSelectionRange(position, position);
      hide();
      input.focus();
    }
    function suggest() {
      var q = query();
      if (q === null) { hide(); return; }
      var mine = ++request;
      fetch(url + "?q=" + encodeURIComponent(q), { headers: { "HX-Request": "true" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) {
          if (mine !== request || query() === null) { return; }
          list.innerHTML = html;
          list.classList.toggle("d-none", !html.trim());
          highlight(options().length ? 0 : -1);
        })
        .catch(hide);
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(suggest, 150);
    });
    input.addEventListener("keydown", function (event) {
      var items = options();
      if (list.classList.contains("d-none") || !items.length) { return; }
      if (event.key === "ArrowDown") { event.preventDefault(); highlight((active + 1) % items.length); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight((active - 1 + items.length) % items.length); }
      else if (event.key === "Enter" || event.key === "Tab") {
        if (active >= 0) { event.preventDefault(); choose(items[active]); }
      } else if (event.key === "Escape") { hide(); }
    });
    list.addEventListener("mousedown", function (event) {
      var item = event.target.closest("[data-mention-token]");
      if (item) { event.preventDefault(); choose(item); }
    });
    input.addEventListener("blur", function () { setTimeout(hide, 150); });
  }

  function init() { document.querySelectorAll("[data-mention-box]").forEach(setup); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
