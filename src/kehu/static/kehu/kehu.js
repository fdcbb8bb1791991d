// Small behaviours shared by every page; nothing here is required for a page to work.
(function () {
  "use strict";
  // Ctrl/⌘-K focuses the global search box.
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k") {
      var box = document.querySelector("[data-kehu-search]");
      if (box) { event.preventDefault(); box.focus(); box.select(); }
    }
  });
  // Forms and buttons with data-confirm ask before a destructive action.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute("data-confirm") || (event.submitter && event.submitter.getAttribute("data-confirm"));
    if (message && !window.confirm(message)) { event.preventDefault(); }
  }, true);
})();
