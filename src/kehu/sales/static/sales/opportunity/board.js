// The opportunity board: drag a card to another column to change its stage (SortableJS), quick edit a card
// in a dialog. The server decides: a refused move puts the card back, shows why, and opens a form with the
// fields the stage asks for; saving that form moves the card.
(function () {
  "use strict";
  var board = document.querySelector("[data-board]");
  if (!board || !window.Sortable) { return; }
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var messageBox = document.getElementById("board-message");
  var modalElement = document.getElementById("quick-edit");
  var modalBody = modalElement.querySelector("[data-quick-edit-body]");
  var modal = window.bootstrap ? window.bootstrap.Modal.getOrCreateInstance(modalElement) : null;

  function withQuery(url) {
    var query = board.getAttribute("data-query");
    return query ? url + (url.indexOf("?") === -1 ? "?" : "&") + query : url;
  }

  function showMessage(text, kind) {
    messageBox.innerHTML = "";
    if (!text) { return; }
    var alert = document.createElement("div");
    alert.className = "alert alert-" + kind + " alert-dismissible small py-2";
    alert.setAttribute("role", kind === "danger" ? "alert" : "status");
    alert.setAttribute("data-testid", kind === "danger" ? "board-error" : "board-success");
    alert.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", "×");
    alert.appendChild(close);
    messageBox.appendChild(alert);
  }

  function applySummary(summary) {
    if (!summary) { return; }
    board.querySelectorAll("[data-testid=column]").forEach(function (column) {
      var figures = summary[column.getAttribute("data-stage")];
      if (!figures) { return; }
      column.querySelector("[data-count]").textContent = figures.count;
      var total = column.querySelector("[data-total]");
      total.textContent = figures.total;
      total.setAttribute("title", figures.total_full);
    });
  }

  function send(url, body) {
    return fetch(withQuery(url), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (data) { return data; });
    });
  }

  function cardFrom(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    return holder.firstElementChild;
  }

  function placeCard(data) {
    // The saved card goes to the top of its (maybe new) column, replacing the old one.
    var old = board.querySelector('[data-testid=card][data-opportunity="' + data.id + '"]');
    var list = board.querySelector('[data-cards][data-stage="' + data.stage + '"]');
    var card = cardFrom(data.card_html);
    if (old) { old.remove(); }
    if (list) { list.insertBefore(card, list.firstElementChild); }
    if (window.htmx) { window.htmx.process(card); }
  }

  function openForm(html) {
    modalBody.innerHTML = html;
    if (window.htmx) { window.htmx.process(modalBody); }
    if (modal) { modal.show(); }
    var first = modalBody.querySelector("input:not([type=hidden]), select, textarea");
    if (first) { setTimeout(function () { first.focus(); }, 200); }
  }

  function failed() { showMessage(board.getAttribute("data-error-text"), "danger"); }

  board.querySelectorAll("[data-cards]").forEach(function (list) {
    window.Sortable.create(list, {
      group: "board",
      draggable: ".kehu-board-card",
      filter: "button, .btn",
      preventOnFilter: false,
      animation: 150,
      forceFallback: true,  // pointer events, not HTML5 drag and drop: the same on desktop, touch and in tests
      delay: 150,
      delayOnTouchOnly: true,
      onEnd: function (event) {
        if (event.from === event.to) { return; }
        var card = event.item;
        var origin = event.from;
        var index = event.oldIndex;
        function putBack() { origin.insertBefore(card, origin.children[index] || null); }
        var body = new FormData();
        body.append("stage", event.to.getAttribute("data-stage"));
        card.classList.add("is-saving");
        send(card.getAttribute("data-move-url"), body).then(function (data) {
          card.classList.remove("is-saving");
          if (data.ok) {
            placeCard(data);
            applySummary(data.summary);
            showMessage(data.message, "success");
          } else {
            putBack();
            showMessage(data.message, "danger");
            if (data.form_html) { openForm(data.form_html); }
          }
        }).catch(function () { card.classList.remove("is-saving"); putBack(); failed(); });
      }
    });
  });

  board.addEventListener("click", function (event) {
    var button = event.target.closest("[data-quick-edit]");
    if (!button) { return; }
    event.preventDefault();
    fetch(button.getAttribute("data-quick-edit"), { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(openForm)
      .catch(failed);
  });

  modalElement.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-testid=quick-edit-form]");
    if (!form) { return; }
    event.preventDefault();
    send(form.getAttribute("action"), new FormData(form)).then(function (data) {
      if (data.ok) {
        placeCard(data);
        applySummary(data.summary);
        showMessage(data.message, "success");
        if (modal) { modal.hide(); }
      } else if (data.form_html) {
        modalBody.innerHTML = data.form_html;
      } else {
        showMessage(data.message, "danger");
      }
    }).catch(failed);
  });
})();
