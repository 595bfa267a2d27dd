package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// maskEnvJSON returns the JSON document raw with the values of every
// object field called env or configvars (a service's config vars; in any
// case) whose value is an object replaced by masked. A service's environment turns up in apps, revisions,
// deployments (their configuration and the one before) and the events
// that carry them; masking by name catches every copy. A document that is
// not JSON is returned as it is.
func maskEnvJSON(raw []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	if !maskEnvValues(v) {
		return raw
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return raw
	}
	return append(out, '\n')
}

// maskEnvValues masks v in place and reports whether it changed anything.
func maskEnvValues(v any) bool {
	changed := false
	switch v := v.(type) {
	case map[string]any:
		for k, field := range v {
			if env, ok := field.(map[string]any); ok && (strings.EqualFold(k, "env") || strings.EqualFold(k, "configvars")) {
				for name := range env {
					env[name] = masked
				}
				changed = changed || len(env) > 0
				continue
			}
			changed = maskEnvValues(field) || changed
		}
	case []any:
		for _, e := range v {
			changed = maskEnvValues(e) || changed
		}
	}
	return changed
}

// maskingWriter holds a JSON response back until the handler is done, to
// mask it with maskEnvJSON; any other response (event streams, logs,
// pages) passes straight through.
type maskingWriter struct {
	http.ResponseWriter
	status int
	buffer bool // decided by the Content-Type at WriteHeader
	buf    bytes.Buffer
}

func (m *maskingWriter) WriteHeader(status int) {
	if m.status != 0 {
		return
	}
	m.status = status
	m.buffer = strings.HasPrefix(m.Header().Get("Content-Type"), "application/json")
	if !m.buffer {
		m.ResponseWriter.WriteHeader(status)
	}
}

func (m *maskingWriter) Write(b []byte) (int, error) {
	if m.status == 0 {
		m.WriteHeader(http.StatusOK)
	}
	if m.buffer {
		return m.buf.Write(b)
	}
	return m.ResponseWriter.Write(b)
}

// FlushError flushes what passes through; a held-back JSON response is
// sent whole by finish.
func (m *maskingWriter) FlushError() error {
	if m.buffer {
		return nil
	}
	return http.NewResponseController(m.ResponseWriter).Flush()
}

func (m *maskingWriter) Unwrap() http.ResponseWriter { return m.ResponseWriter }

// finish sends a held-back JSON response, masked.
func (m *maskingWriter) finish() {
	if !m.buffer {
		return
	}
	body := maskEnvJSON(m.buf.Bytes())
	m.Header().Del("Content-Length")
	m.ResponseWriter.WriteHeader(m.status)
	m.ResponseWriter.Write(body)
}
