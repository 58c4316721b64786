// Every page: toasts in #toasts (messages of the page, and those htmx adds later, e.g. the
// answer to a start from an actions menu). Each gets a close button; success and info toasts
// go away by themselves after a few seconds (not while pointed at or focused), errors and
// warnings stay until closed. Loaded as a file (the Content-Security-Policy refuses inline
// script).
(function () {
  "use strict";

  var TOAST = "#toasts .toast";
  var AUTO_DISMISS_MS = 6000;
  var LASTING = ["error", "warning"]; // stay until closed

  function level(toast) {
    var named = toast.getAttribute("data-toast");
    if (named) {
      return named;
    }
    var match = /(?:^|\s)toast-(\w+)/.exec(toast.className);
    return match ? match[1] : "info";
  }

  // Hidden rather than removed: the region keeps its order, and nothing is announced twice.
  function dismiss(toast) {
    window.clearTimeout(toast._dismissTimer);
    if (toast.contains(document.activeElement)) {
      var next = document.querySelector("main h1") || document.body;
      if (next.tabIndex < 0 && next !== document.body) {
        next.tabIndex = -1;
      }
      next.focus();
    }
    toast.hidden = true;
    toast.setAttribute("data-dismissed", "true");
  }

  function schedule(toast) {
    window.clearTimeout(toast._dismissTimer);
    toast._dismissTimer = window.setTimeout(function () {
      dismiss(toast);
    }, AUTO_DISMISS_MS);
  }

  function pause(toast) {
    window.clearTimeout(toast._dismissTimer);
  }

  function setUp(toast) {
    if (toast._toastReady) {
      return;
    }
    toast._toastReady = true;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Close");
    close.title = "Close";
    close.textContent = "\u00d7";
    close.addEventListener("click", function () {
      dismiss(toast);
    });
    toast.appendChild(close);
    if (LASTING.indexOf(level(toast)) === -1) {
      toast.addEventListener("mouseenter", function () {
        pause(toast);
      });
      toast.addEventListener("mouseleave", function () {
        schedule(toast);
      });
      toast.addEventListener("focusin", function () {
        pause(toast);
      });
      toast.addEventListener("focusout", function () {
        schedule(toast);
      });
      schedule(toast);
    }
  }

  function scan() {
    document.querySelectorAll(TOAST).forEach(setUp);
  }

  // htmx:load fires for each piece of content htmx inserts (and once for the page);
  // afterSwap covers swaps into #toasts whatever their shape.
  document.addEventListener("htmx:load", scan);
  document.addEventListener("htmx:afterSwap", scan);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", scan);
  } else {
    scan();
  }
})();
