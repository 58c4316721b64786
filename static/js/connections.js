// Connections pages: actions menus that open inside the viewport and close after a choice,
// polls that wait while a menu is open, the panel of "Run on all shown…", and the copy button
// of the app-manifest snippet.
// Loaded as a file (the Content-Security-Policy refuses inline script); everything is
// delegated from the document, so rows swapped in by htmx need no set-up.
(function () {
  "use strict";

  var MENU = "details.actions-menu";
  var MARGIN = 8; // px kept free between a menu and the viewport's edges

  function closeMenus(except) {
    document.querySelectorAll(MENU + "[open]").forEach(function (menu) {
      if (menu !== except) {
        menu.open = false;
      }
    });
  }

  // Fixed positioning takes the menu out of scroll boxes and page flow: it can neither be cut
  // off by the table's box nor make the page longer or wider. Below its button when it fits,
  // else above; right-aligned with the button, moved left or right to stay on screen.
  // A menu is never moved while a pointer is pressed in it: the press and its release must land
  // on the same item, or the click goes to whatever the list uncovered (a poll elsewhere on the
  // page, a late placement or a scroll can all ask for a new place in between).
  var pressed = null;
  document.addEventListener(
    "pointerdown",
    function (event) {
      pressed = event.target.closest && event.target.closest(MENU);
    },
    true
  );
  function release() {
    window.setTimeout(function () {
      pressed = null; // after the click that follows the release
    }, 0);
  }
  document.addEventListener("pointerup", release, true);
  document.addEventListener("pointercancel", release, true);

  function place(menu) {
    if (menu === pressed) {
      return;
    }
    var list = menu.querySelector(":scope > ul");
    var button = menu.querySelector(":scope > summary");
    if (!list || !button) {
      return;
    }
    list.classList.add("menu-fixed");
    var anchor = button.getBoundingClientRect();
    var width = list.offsetWidth;
    var height = list.offsetHeight;
    var viewWidth = document.documentElement.clientWidth;
    var viewHeight = document.documentElement.clientHeight;
    var left = Math.min(anchor.right - width, viewWidth - width - MARGIN);
    left = Math.max(MARGIN, left);
    var below = viewHeight - anchor.bottom - MARGIN;
    var above = anchor.top - MARGIN;
    var top;
    if (height <= below || below >= above) {
      top = anchor.bottom + 2;
      list.classList.remove("menu-up");
    } else {
      top = anchor.top - height - 2;
      list.classList.add("menu-up");
    }
    top = Math.max(MARGIN, Math.min(top, viewHeight - height - MARGIN));
    list.style.left = left + "px";
    list.style.top = top + "px";
    list.style.maxHeight = viewHeight - 2 * MARGIN + "px";
  }

  document.addEventListener(
    "toggle",
    function (event) {
      var menu = event.target;
      if (!(menu instanceof HTMLDetailsElement) || !menu.matches(MENU)) {
        return;
      }
      if (menu.open) {
        closeMenus(menu);
        place(menu);
      }
    },
    true
  );

  // A row's menu on the list fetches its items when it first opens (providers:actions): place
  // it again as soon as they are in (in the same task as the swap, so the items are never drawn
  // where the placeholder was and never move under a pointer that is about to click them), and
  // once more after htmx settles.
  function placeLoaded(event) {
    var menu = event.detail && event.detail.elt;
    if (menu instanceof HTMLDetailsElement && menu.matches(MENU) && menu.open) {
      place(menu);
    }
  }
  document.addEventListener("htmx:afterSwap", placeLoaded);
  document.addEventListener("htmx:afterSettle", placeLoaded);

  // A choice closes its menu (after the click has done its work: a link is followed, a form
  // is sent, htmx posts it).
  document.addEventListener("click", function (event) {
    var choice = event.target.closest(MENU + " > ul a, " + MENU + " > ul button");
    if (choice) {
      var menu = choice.closest(MENU);
      window.setTimeout(function () {
        menu.open = false;
      }, 0);
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var open = document.querySelector(MENU + "[open]");
      if (open) {
        open.open = false;
        open.querySelector(":scope > summary").focus();
      }
    }
  });

  // A fixed menu would drift from its button: follow it when the page scrolls or resizes.
  var pending = false;
  function replaceOpenMenus() {
    if (pending) {
      return;
    }
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      document.querySelectorAll(MENU + "[open]").forEach(place);
    });
  }
  window.addEventListener("resize", replaceOpenMenus);
  window.addEventListener("scroll", replaceOpenMenus, true);

  // A poll would replace an open menu under the pointer: skip this round, the next one comes.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail && event.detail.elt;
    if (source && source.querySelector && source.querySelector(MENU + "[open]")) {
      event.preventDefault();
    }
  });
  // A poll already on its way when the menu opened: drop its answer (a GET), the next one comes.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail || {};
    var target = detail.target;
    var verb = detail.requestConfig && detail.requestConfig.verb;
    if (verb === "get" && target && target.querySelector && target.querySelector(MENU + "[open]")) {
      detail.shouldSwap = false;
    }
  });

  // Copy buttons: data-copy names the element whose text is copied. Without the clipboard
  // (an insecure origin), the text is selected for the person to copy.
  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copy(button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source) {
      return;
    }
    var done = function (label) {
      button.textContent = label;
      window.setTimeout(function () {
        button.textContent = button.dataset.label;
      }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent).then(
        function () {
          done("Copied");
        },
        function () {
          selectText(source);
          done("Selected: press Ctrl+C");
        }
      );
    } else {
      selectText(source);
      done("Selected: press Ctrl+C");
    }
  }

  function showCopyButtons() {
    document.querySelectorAll("button[data-copy][hidden]").forEach(function (button) {
      button.dataset.label = button.textContent;
      button.hidden = false;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (button) {
      copy(button);
    }
  });

  // "Run on all shown…": the confirmation and then the summary arrive in #bulk-panel above the
  // table; the focus follows them (for keyboards and screen readers). Cancel and Close empty
  // the panel instead of reloading the list (their links do that without script).
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "bulk-panel") {
      var panel = target.querySelector("#run-all");
      if (panel) {
        panel.focus();
      }
    }
  });

  document.addEventListener("click", function (event) {
    var close = event.target.closest("#bulk-panel [data-run-all-close]");
    if (close) {
      event.preventDefault();
      document.getElementById("bulk-panel").replaceChildren();
      var menu = document.querySelector("details.run-all-menu > summary");
      if (menu) {
        menu.focus();
      }
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", showCopyButtons);
  } else {
    showCopyButtons();
  }
})();
