// The site shell: the phone menu button, and card tables whose cells are labelled with their column's heading.
(function () {
  function labelCards(root) {
    root.querySelectorAll("table.cards").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) { return th.textContent.trim(); });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, i) {
          if (heads[i] && cell.colSpan === 1 && !cell.hasAttribute("data-label")) { cell.setAttribute("data-label", heads[i]); }
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector("header.top .menu-button");
    if (button) {
      button.addEventListener("click", function () {
        var open = document.querySelector("header.top").classList.toggle("open");
        button.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
    labelCards(document);
  });
  document.addEventListener("htmx:afterSwap", function (event) { labelCards(event.target); });
})();
