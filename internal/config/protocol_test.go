package config

import (
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/health"
	"github.com/cutover/cutover/internal/proxy"
)

func TestParseLBProtocol(t *testing.T) {
	lb, err := ParseLB("lb.yaml", []byte(`
listeners: [{name: p, address: ":80", forward: api}]
target_groups:
  - name: api
    protocol: grpc
    targets: [127.0.0.1:9001]
    health_check: {grpc_service: shop.Orders, matcher: "0-99"}
  - name: web
    protocol: h2c
`))
	if err != nil {
		t.Fatal(err)
	}
	api, web := lb.Proxy.TargetGroups[0], lb.Proxy.TargetGroups[1]
	if api.Protocol != proxy.ProtocolGRPC || api.HealthCheck.Protocol != health.ProtocolGRPC ||
		api.HealthCheck.GRPCService != "shop.Orders" || api.HealthCheck.Matcher != "0-99" {
		t.Errorf("api = %+v", api)
	}
	if web.Protocol != proxy.ProtocolH2C {
		t.Errorf("web protocol = %q, want h2c", web.Protocol)
	}
}

func TestParseProtocolErrors(t *testing.T) {
	const lbHead = "listeners: [{name: p, address: \":80\", forward: a}]\ntarget_groups:\n"
	const appHead = "name: a\nlisteners: {production: ':1'}\n"
	tests := []struct {
		name, file, yaml, want string
	}{
		{"lb unknown protocol", "lb.yaml", lbHead + "  - {name: a, protocol: spdy}\n",
			`lb.yaml:3:25: target_groups[0].protocol: "spdy" is not a protocol; valid: http1, http2, h2c, grpc, grpcs`},
		{"lb http matcher on grpc", "lb.yaml", lbHead + "  - name: a\n    protocol: grpc\n    health_check: {matcher: \"200\"}\n",
			`lb.yaml:5:29: target_groups[0].health_check.matcher: "200" is invalid for a grpc target group; valid: a gRPC status code 0-99`},
		{"lb grpc_service on http1", "lb.yaml", lbHead + "  - name: a\n    health_check: {grpc_service: x}\n",
			`lb.yaml:4:34: target_groups[0].health_check.grpc_service: applies to grpc and grpcs target groups only`},
		{"app unknown protocol", "cutover.yaml", appHead + "service: {command: x, port: 80, protocol: http3}\n",
			`cutover.yaml:3:43: service.protocol: "http3" is not a protocol; valid: http1, http2, h2c, grpc, grpcs`},
		{"app grpc with http matcher", "cutover.yaml", appHead + "service: {command: x, port: 80, protocol: grpc}\nhealth: {matcher: 200-299}\n",
			`cutover.yaml:4:19: health.matcher: "200-299" is invalid for a grpc target group`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.file == "lb.yaml" {
				_, err = ParseLB(tc.file, []byte(tc.yaml))
			} else {
				_, err = ParseApp(tc.file, []byte(tc.yaml))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant it to contain %s", err, tc.want)
			}
		})
	}
}

func TestParseAppGRPCDefaults(t *testing.T) {
	app, err := ParseApp("cutover.yaml", []byte("name: a\nservice: {command: x, port: 80, protocol: grpc}\nlisteners: {production: ':1'}\nhealth: {grpc_service: shop.Orders}\n"))
	if err != nil {
		t.Fatal(err)
	}
	hc := app.Health
	if app.Service.Protocol != proxy.ProtocolGRPC || hc.Protocol != health.ProtocolGRPC || hc.Matcher != "0" || hc.GRPCService != "shop.Orders" {
		t.Errorf("service protocol %q, health %+v; want grpc, matcher 0, service shop.Orders", app.Service.Protocol, hc)
	}
}

// grpcs is gRPC over TLS: the same gRPC health check defaults as grpc.
func TestParseGRPCS(t *testing.T) {
	app, err := ParseApp("cutover.yaml", []byte("name: a\nservice: {command: x, port: 80, protocol: grpcs}\nlisteners: {production: ':1'}\nhealth: {grpc_service: shop.Orders}\n"))
	if err != nil {
		t.Fatal(err)
	}
	hc := app.Health
	if app.Service.Protocol != proxy.ProtocolGRPCS || hc.Protocol != health.ProtocolGRPCS || hc.Matcher != "0" || hc.GRPCService != "shop.Orders" {
		t.Errorf("service protocol %q, health %+v; want grpcs, matcher 0, service shop.Orders", app.Service.Protocol, hc)
	}
	lb, err := ParseLB("lb.yaml", []byte(`
listeners: [{name: p, address: ":80", forward: api}]
target_groups:
  - name: api
    protocol: grpcs
    targets: [127.0.0.1:9001]
    health_check: {matcher: "200"}
`))
	if err == nil || !strings.Contains(err.Error(), `"200" is invalid for a grpcs target group`) {
		t.Errorf("lb.yaml with an HTTP matcher on a grpcs group: %v, lb %+v; want the matcher refused", err, lb)
	}
}
