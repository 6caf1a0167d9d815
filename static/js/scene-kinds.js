// The scene form shows only the "when" fields of the chosen kind, in the kind's order, each with the
// kind's own help (campaigns.kinds: one class per kind declares its fields and help).
(function () {
  "use strict";
  var kinds = JSON.parse(document.getElementById("scene-kinds").textContent);
  var whenFields = JSON.parse(document.getElementById("scene-when-fields").textContent);
  var select = document.getElementById("id_kind");
  if (!select) return;
  var original = {};

  function row(name) {
    return document.querySelector(".form-row.field-" + name) || document.querySelector(".field-" + name);
  }

  // The field's help box, made where Django puts one (under the field, after its label and input)
  // for a field whose model has no help text of its own.
  function helpOf(name, r) {
    var help = document.getElementById("id_" + name + "_helptext");
    if (!help && r) {
      var field = r.querySelector("input, select, textarea");
      var box = field ? field.closest(".flex-container") : null;
      help = document.createElement("div");
      help.className = "help";
      help.id = "id_" + name + "_helptext";
      help.appendChild(document.createElement("div"));
      if (box && box.parentNode) box.parentNode.insertBefore(help, box.nextSibling);
      else r.appendChild(help);
      if (field && !field.getAttribute("aria-describedby")) field.setAttribute("aria-describedby", help.id);
    }
    return help;
  }

  function setHelp(help, html, text) {
    var inner = help.firstElementChild && help.firstElementChild.tagName === "DIV" ? help.firstElementChild : help;
    if (text) inner.textContent = text;
    else inner.innerHTML = html;
    help.hidden = !inner.textContent.trim();
  }

  function show() {
    var kind = kinds[select.value] || { fields: [], help: {} };
    whenFields.forEach(function (name) {
      var r = row(name);
      if (!r) return;
      var used = kind.fields.indexOf(name) !== -1;
      r.hidden = !used;
      r.setAttribute("data-kind-field", used ? "shown" : "hidden");
      var help = helpOf(name, r);
      if (!help) return;
      var inner = help.firstElementChild && help.firstElementChild.tagName === "DIV" ? help.firstElementChild : help;
      if (!(name in original)) original[name] = inner.innerHTML;
      setHelp(help, original[name], kind.help[name] || "");
    });
    // the kind's fields in the order it declares them (a lunar holiday's month and day before its window)
    kind.fields.forEach(function (name) {
      var r = row(name);
      if (r && r.parentNode) r.parentNode.appendChild(r);
    });
  }

  select.addEventListener("change", show);
  show();
})();
