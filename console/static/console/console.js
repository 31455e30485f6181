// Keyboard shortcuts of the console (no inline script: the Content-Security-Policy allows only
// this file and htmx). "g" then a menu letter opens that page; "j"/"k" move between the rows of a
// list; "/" goes to the search or first field; "r" the reply box; "n" the note box.
(function () {
  "use strict";
  var pendingG = false;

  // A set-password link carries its token after "#" (never sent to a server): into the form's code
  // field, and off the address bar and the history.
  var code = document.getElementById("link-code");
  if (code && window.location.hash.length > 1) {
    code.value = decodeURIComponent(window.location.hash.slice(1));
    window.history.replaceState(null, "", window.location.pathname);
  }

  function typing(target) {
    var name = target && target.tagName;
    return name === "INPUT" || name === "TEXTAREA" || name === "SELECT" || (target && target.isContentEditable);
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-row] a"));
  }

  function move(step) {
    var links = rows();
    if (!links.length) { return; }
    var at = links.indexOf(document.activeElement);
    var next = at < 0 ? 0 : Math.min(Math.max(at + step, 0), links.length - 1);
    links[next].focus();
  }

  function focus(selector) {
    var element = document.querySelector(selector);
    if (element) { element.focus(); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var key = event.key;
    if (pendingG) {
      pendingG = false;
      var link = document.querySelector('nav a[data-key="' + key + '"]');
      if (link) { event.preventDefault(); window.location.assign(link.href); }
      return;
    }
    if (key === "g") { pendingG = true; return; }
    if (key === "j") { event.preventDefault(); move(1); }
    else if (key === "k") { event.preventDefault(); move(-1); }
    else if (key === "/") { if (focus("#q") || focus("main input, main select")) { event.preventDefault(); } }
    else if (key === "r") { if (focus("#reply-body")) { event.preventDefault(); } }
    else if (key === "n") { if (focus("#note-body")) { event.preventDefault(); } }
  });
})();
