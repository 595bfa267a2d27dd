package main

import (
	"net/http/httptest"
	"testing"
)

func TestRootAnswersWithTheVersion(t *testing.T) {
	rec := httptest.NewRecorder()
	handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 || rec.Body.String() != "goservice version "+version+"\n" {
		t.Errorf("GET / = %d %q", rec.Code, rec.Body.String())
	}
}
