// Alert forms: show only the fields that belong to the chosen event or channel kind (and the
// connection list only for "Chosen connections"). Without this script every part is shown,
// each under its own legend, and the server ignores the parts of other kinds.
// data-shown-when="name=value [value…]" names the form control and the values it shows for.
// Loaded as a file (the Content-Security-Policy refuses inline script).
(function () {
  "use strict";

  var FORM = "form[data-alert-form]";

  function currentValue(form, name) {
    var controls = form.querySelectorAll('[name="' + name + '"]');
    for (var i = 0; i < controls.length; i += 1) {
      var control = controls[i];
      if (control.type === "radio" || control.type === "checkbox") {
        if (control.checked) {
          return control.value;
        }
      } else {
        return control.value;
      }
    }
    return "";
  }

  function update(form) {
    form.querySelectorAll("[data-shown-when]").forEach(function (part) {
      var rule = part.getAttribute("data-shown-when").split("=");
      var values = (rule[1] || "").split(" ");
      part.hidden = values.indexOf(currentValue(form, rule[0])) === -1;
    });
  }

  function setUp() {
    document.querySelectorAll(FORM).forEach(update);
  }

  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest(FORM);
    if (form) {
      update(form);
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
