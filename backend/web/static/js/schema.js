// Starts Swagger UI on /schema (backend/web/schema_viewer.py). A file, not an inline script,
// so that the page's content policy can refuse every inline script. The bundle and the
// preset are classic scripts loaded with `defer`, so they have run before this module.

const root = document.getElementById('swagger-ui');

window.ui = window.SwaggerUIBundle({
  url: root.dataset.document,
  domNode: root,
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIStandalonePreset],
  // Nothing from another origin: no badge from Swagger's online validator.
  validatorUrl: null,
});
