// cobranca payer page: copy buttons and card tokenization. No inline script anywhere (CSP script-src 'self').
// The card fields have no `name`: the browser never submits them to us, only the acquirer's token.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.getElementById(button.getAttribute("data-copy"));
      var status = button.parentNode.querySelector(".copied");
      var done = function () { if (status) { status.textContent = "Copiado!"; } };
      field.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });

  var form = document.getElementById("card");
  if (!form || !form.getAttribute("data-tokenize-url")) { return; }
  var error = document.getElementById("card-error");
  form.addEventListener("submit", function (event) {
    if (form.elements.card_token.value) { return; }
    event.preventDefault();
    error.hidden = true;
    var value = function (id) { return document.getElementById(id).value.trim(); };
    var body = JSON.stringify({ number: value("card-number").replace(/\D/g, ""), holder: value("card-holder"),
      expiry: value("card-expiry"), cvv: value("card-cvv") });
    fetch(form.getAttribute("data-tokenize-url"), { method: "POST", headers: { "content-type": "application/json" }, body: body })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (r) {
        if (!r.ok || !r.body.card_token) { throw new Error(r.body.message || "Cartão recusado pela adquirente."); }
        form.elements.card_token.value = r.body.card_token;
        form.elements.brand.value = r.body.brand;
        form.submit();
      })
      .catch(function (e) { error.textContent = e.message || "Não foi possível ler o cartão. Confira os dados."; error.hidden = false; });
  });
})();
