// The REST API reference at /docs: Swagger UI from vendored files, started without an
// inline script (the content policy allows scripts from this site only). No validator,
// no network beyond this server.
(function () {
  "use strict";
  function start() {
    var root = document.getElementById("swagger-ui");
    window.ui = window.SwaggerUIBundle({
      url: root.getAttribute("data-openapi-url"),
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      defaultModelsExpandDepth: 0,
      docExpansion: "list",
      tryItOutEnabled: false,
      persistAuthorization: false
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
