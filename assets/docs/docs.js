// Starts Swagger UI on the document this server serves. A file rather than an inline script,
// so the page's Content-Security-Policy can forbid inline scripts.
// With AUTH_MODE=none the server marks the page (data-auth-mode="none"): every request is
// the local user, so the Authorize button and the locks are hidden.
function HideAuthorization() {
  var nothing = function () {
    return function () {
      return null;
    };
  };
  return {
    wrapComponents: {
      authorizeBtn: nothing,
      authorizeOperationBtn: nothing,
    },
  };
}

window.addEventListener("load", function () {
  var withoutAuth = document.body.dataset.authMode === "none";
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The default validator badge would call a public service; the page stays offline.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: withoutAuth ? [HideAuthorization] : [],
    layout: "BaseLayout",
  });
});
