package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Protocols a check speaks, those of the target group it belongs to.
const (
	ProtocolHTTP1 = "http1" // HTTP/1.1 GET (the default)
	ProtocolHTTP2 = "http2" // HTTP/2 GET over TLS, certificate not verified
	ProtocolH2C   = "h2c"   // HTTP/2 GET in cleartext, prior knowledge
	ProtocolGRPC  = "grpc"  // grpc.health.v1.Health/Check over h2c
	ProtocolGRPCS = "grpcs" // grpc.health.v1.Health/Check over TLS, certificate not verified
)

// SpeaksGRPC reports whether protocol p is gRPC, in cleartext or over TLS:
// checks call grpc.health.v1 and match gRPC status codes.
func SpeaksGRPC(p string) bool {
	return p == ProtocolGRPC || p == ProtocolGRPCS
}

// Matcher ranges and default of gRPC checks: gRPC status codes, as ALB's
// Matcher.GrpcCode.
const (
	minGRPCCode        = 0
	maxGRPCCode        = 99
	DefaultGRPCMatcher = "0"
)

// grpcHealthPath is the method of the gRPC health checking protocol.
const grpcHealthPath = "/grpc.health.v1.Health/Check"

// The values of grpc.health.v1.HealthCheckResponse.ServingStatus.
var servingStatuses = map[uint64]string{0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}

const statusServing = 1

// maxGRPCResponse bounds the health response a check reads; the real
// one is 7 bytes.
const maxGRPCResponse = 4 << 10

// probeFor returns the probe that speaks cfg.Protocol.
func probeFor(cfg Config) probeFunc {
	if SpeaksGRPC(cfg.Protocol) {
		return newGRPCProbe(cfg).probe
	}
	return newHTTPProbe(cfg).probe
}

// transportFor returns a transport that opens a new connection for each
// check, as ALB does, in the protocol of cfg: a target that stops
// accepting connections fails its next check.
func transportFor(protocol string) *http.Transport {
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext:       (&net.Dialer{}).DialContext,
	}
	var p http.Protocols
	switch protocol {
	case ProtocolHTTP2, ProtocolGRPCS:
		p.SetHTTP2(true)
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // as ALB: targets' certificates are not checked
	case ProtocolH2C, ProtocolGRPC:
		p.SetUnencryptedHTTP2(true)
	default:
		p.SetHTTP1(true)
	}
	tr.Protocols = &p
	return tr
}

// grpcProbe calls grpc.health.v1.Health/Check. The request is written by
// hand: a HealthCheckRequest is one optional string field, and the check
// needs no gRPC library in the data plane.
type grpcProbe struct {
	client  *http.Client
	scheme  string // "http://" (h2c) or "https://"
	port    int
	request []byte // the framed HealthCheckRequest
}

func newGRPCProbe(cfg Config) *grpcProbe {
	scheme := "http://"
	if cfg.Protocol == ProtocolGRPCS {
		scheme = "https://"
	}
	return &grpcProbe{
		client:  &http.Client{Transport: transportFor(cfg.Protocol)},
		scheme:  scheme,
		port:    cfg.Port,
		request: grpcFrame(healthCheckRequest(cfg.GRPCService)),
	}
}

// healthCheckRequest encodes grpc.health.v1.HealthCheckRequest{service}:
// field 1, wire type 2 (length-delimited), left out when empty.
func healthCheckRequest(service string) []byte {
	if service == "" {
		return nil
	}
	b := []byte{1<<3 | 2}
	b = binary.AppendUvarint(b, uint64(len(service)))
	return append(b, service...)
}

// grpcFrame prefixes msg with gRPC's message header: not compressed, and
// the length as 4 bytes big-endian.
func grpcFrame(msg []byte) []byte {
	b := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// probe checks target once and returns the call's gRPC status code. A call
// that succeeds but reports a serving status other than SERVING fails
// with an error.
func (p *grpcProbe) probe(ctx context.Context, target string) (int, error) {
	url := p.scheme + portOverride(target, p.port) + grpcHealthPath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(p.request))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	req.Header.Set("User-Agent", userAgent)
	if d, ok := ctx.Deadline(); ok {
		req.Header.Set("Grpc-Timeout", strconv.FormatInt(max(time.Until(d).Milliseconds(), 1), 10)+"m")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGRPCResponse))
	if err != nil {
		return 0, fmt.Errorf("reading the health response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HTTP status %d, not a gRPC response", resp.StatusCode)
	}
	code, err := grpcStatus(resp)
	if err != nil || code != 0 {
		return code, err
	}
	status, err := servingStatus(body)
	if err != nil {
		return 0, err
	}
	if status != statusServing {
		return 0, fmt.Errorf("serving status %s", servingStatusName(status))
	}
	return 0, nil
}

// grpcStatus reads grpc-status from the trailers, or from the headers of
// a trailers-only response.
func grpcStatus(resp *http.Response) (int, error) {
	s := resp.Trailer.Get("Grpc-Status")
	if s == "" {
		s = resp.Header.Get("Grpc-Status")
	}
	code, err := strconv.Atoi(s)
	if err != nil || code < 0 {
		return 0, fmt.Errorf("no valid grpc-status in the response (%q)", s)
	}
	return code, nil
}

// servingStatus decodes the status field (1, varint) of one framed
// grpc.health.v1.HealthCheckResponse. Unknown fields are skipped.
func servingStatus(body []byte) (uint64, error) {
	if len(body) < 5 || body[0] != 0 {
		return 0, errors.New("no uncompressed gRPC message in the health response")
	}
	n := binary.BigEndian.Uint32(body[1:5])
	msg := body[5:]
	if uint64(len(msg)) < uint64(n) {
		return 0, errors.New("truncated health response")
	}
	msg = msg[:n]
	var status uint64 // a field left out is 0, UNKNOWN
	for len(msg) > 0 {
		key, k := binary.Uvarint(msg)
		if k <= 0 {
			return 0, errors.New("malformed health response")
		}
		msg = msg[k:]
		field, wire := key>>3, key&7
		switch wire {
		case 0:
			v, k := binary.Uvarint(msg)
			if k <= 0 {
				return 0, errors.New("malformed health response")
			}
			msg = msg[k:]
			if field == 1 {
				status = v
			}
		case 2:
			l, k := binary.Uvarint(msg)
			if k <= 0 || uint64(len(msg)-k) < l {
				return 0, errors.New("malformed health response")
			}
			msg = msg[k+int(l):]
		default:
			return 0, fmt.Errorf("unexpected wire type %d in the health response", wire)
		}
	}
	return status, nil
}

func servingStatusName(s uint64) string {
	if name, ok := servingStatuses[s]; ok {
		return name
	}
	return strconv.FormatUint(s, 10)
}
