package config

import (
	"mime"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/cutover/cutover/internal/proxy"
)

// fixedResponse reads an ALB fixed-response action of a listener or a
// rule: {status_code, content_type, body, retry_after}.
func (w *walker) fixedResponse(n *yaml.Node, path string) *proxy.FixedResponseConfig {
	fr := &proxy.FixedResponseConfig{}
	f := w.fields(n, path, "status_code", "content_type", "body", "retry_after")
	if f == nil {
		return fr
	}
	if v := w.required(f, n, path, "status_code", "give the status to answer with, e.g. 503 (200-599)"); v != nil {
		fr.StatusCode = w.integer(v, path+".status_code", 200, 599)
	}
	if v := f["content_type"]; v != nil {
		fr.ContentType = w.str(v, path+".content_type")
		if mt, _, err := mime.ParseMediaType(fr.ContentType); err != nil || !strings.Contains(mt, "/") || strings.ContainsAny(fr.ContentType, "\r\n") {
			w.errorf(v, path+".content_type", "%q is not a media type; valid: e.g. text/html; charset=utf-8", fr.ContentType)
		}
	}
	if v := f["body"]; v != nil {
		fr.Body = w.str(v, path+".body")
		if len(fr.Body) > proxy.MaxFixedResponseBody {
			w.errorf(v, path+".body", "is %d bytes; valid: at most %d (1 MiB)", len(fr.Body), proxy.MaxFixedResponseBody)
		} else if !utf8.ValidString(fr.Body) {
			w.errorf(v, path+".body", "is not UTF-8 text")
		}
	}
	if v := f["retry_after"]; v != nil {
		fr.RetryAfter = w.integer(v, path+".retry_after", 0, proxy.MaxRetryAfter)
	}
	return fr
}
