// igent: start Swagger UI on the service's own OpenAPI document (kept out of the HTML page).
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
