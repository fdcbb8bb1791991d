// Suggested articles on the ticket page: "Insert link" puts the article's public address into the reply box
// (the ticket page's textarea named "body", or one marked data-reply-body); without one, it is copied.
(function () {
  "use strict";
  if (window.kehuKbInsert) { return; }
  window.kehuKbInsert = true;
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-kb-insert]");
    if (!button) { return; }
    event.preventDefault();
    var text = button.getAttribute("data-kb-title") + " " + button.getAttribute("data-kb-insert");
    var box = document.querySelector("textarea[data-reply-body]") || document.querySelector("textarea[name='body']");
    if (box) {
      var start = box.selectionStart || box.value.length, end = box.selectionEnd || box.value.length;
      var before = box.value.slice(0, start), after = box.value.slice(end);
      var glue = before && !/\s$/.test(before) ? "\n" : "";
      box.value = before + glue + text + after;
      box.focus();
      box.selectionStart = box.selectionEnd = (before + glue + text).length;
      box.dispatchEvent(new Event("input", {bubbles: true}));
    } else if (navigator.clipboard) {
      navigator.clipboard.writeText(text);
    }
    button.classList.add("text-success");
  });
})();
