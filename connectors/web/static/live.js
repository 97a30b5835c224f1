// pcfx web: follow the company's labels as server-sent events and swap changed rows into the open page.
// No framework, nothing fetched from elsewhere: the server renders (and escapes) each row it sends.
(function () {
  "use strict";
  var lang = document.documentElement.lang === "zh-CN" ? "zh" : "en";
  var status = document.getElementById("live");
  var source = new EventSource("/web/events?lang=" + lang);
  source.addEventListener("open", function () { if (status) { status.textContent = "●"; status.title = "live"; } });
  source.addEventListener("label", function (message) {
    var update = JSON.parse(message.data);
    var board = document.querySelector("#board tbody");
    if (board) {
      var holder = document.createElement("tbody");
      holder.innerHTML = update.row;
      var fresh = holder.firstElementChild;
      fresh.classList.add("updated");
      var rows = board.querySelectorAll("tr[data-product]");
      var old = null;
      for (var i = 0; i < rows.length; i++) { if (rows[i].dataset.product === update.product) { old = rows[i]; } }
      if (old && old.dataset.version === fresh.dataset.version && old.textContent === fresh.textContent) {
        return;  // the page shows this label already (every stream starts with all current labels)
      }
      if (old) { board.replaceChild(fresh, old); } else { board.appendChild(fresh); }
      var empty = document.getElementById("empty");
      if (empty) { empty.remove(); }
    }
    var label = document.getElementById("label");
    if (label && label.dataset.product === update.product && label.dataset.version !== String(update.version)) {
      fetch(window.location.href, { credentials: "same-origin" }).then(function (r) { return r.text(); })
        .then(function (text) {
          var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("main");
          if (fresh) { document.getElementById("main").innerHTML = fresh.innerHTML; }
        });
    }
  });
})();
