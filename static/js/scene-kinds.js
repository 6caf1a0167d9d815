// The scene form shows only the "when" fields of the chosen kind, each with the kind's own help
// (campaigns.kinds: one class per kind declares its fields and help).
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

  function helpOf(name, r) {
    var help = document.getElementById("id_" + name + "_helptext");
    if (!help && r) {
      help = document.createElement("div");
      help.className = "help";
      help.id = "id_" + name + "_helptext";
      var field = r.querySelector("input, select, textarea");
      (field && field.parentNode ? field.parentNode : r).appendChild(help);
    }
    return help;
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
      if (!(name in original)) original[name] = help ? help.innerHTML : "";
      if (help) help.textContent = kind.help[name] || "";
      if (help && !kind.help[name]) help.innerHTML = original[name];
    });
  }

  select.addEventListener("change", show);
  show();
})();
