package config

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cutover/cutover/internal/proxy"
)

// protocol reads a target group protocol (lb.yaml target_groups[].protocol,
// cutover.yaml service.protocol): http1, http2, h2c, grpc or grpcs.
func (w *walker) protocol(n *yaml.Node, path string) string {
	p := w.str(n, path)
	if !slices.Contains(proxy.Protocols, p) {
		w.errorf(n, path, "%q is not a protocol; valid: %s", p, strings.Join(proxy.Protocols, ", "))
	}
	return p
}
