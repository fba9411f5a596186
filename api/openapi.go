package api

import (
	"bytes"
	_ "embed"
	"net/http"
)

// openAPIPath is where the OpenAPI document is served, without the API key:
// it describes the routes and no data.
const openAPIPath = "/v1/openapi.json"

// openAPI is the OpenAPI 3.1 document of every route, kept beside the
// handlers in openapi.json. TestOpenAPIRoutes fails when a route is missing
// from it or it names a route that does not exist, and TestOpenAPIFields
// when the fields of a request or an answer differ from it.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document of the API, as GET
// /v1/openapi.json serves it.
func OpenAPI() []byte { return bytes.Clone(openAPI) }

// handleOpenAPI is GET /v1/openapi.json.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = nosniff
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPI)
}
