package api

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestOpenAPIMatchesRoutes(t *testing.T) {
	f := newFixture(t)
	// The document as served, so the test also covers the route.
	resp, err := f.local.request(context.Background(), "GET", "/api/v1/openapi.json", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	inDoc := map[string]string{} // "GET /path" -> role
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op struct {
				Role string `json:"x-cutover-role"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatal(err)
			}
			inDoc[strings.ToUpper(method)+" "+path] = op.Role
		}
	}
	inMux := map[string]string{}
	for _, rt := range f.h.routes {
		inMux[rt.method+" "+rt.path] = rt.role
	}
	for _, k := range slices.Sorted(maps.Keys(inMux)) {
		role, ok := inDoc[k]
		switch {
		case !ok:
			t.Errorf("route %s is not in openapi.json", k)
		case role != inMux[k]:
			t.Errorf("%s: openapi.json says role %q, the mux %q", k, role, inMux[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(inDoc)) {
		if _, ok := inMux[k]; !ok {
			t.Errorf("openapi.json has %s, which the mux does not serve", k)
		}
	}
}
