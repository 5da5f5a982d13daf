package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

// request is one line of the benchmark's request stream, as check-bench.ts writes it.
type request struct {
	Principal string            `json:"principal"`
	Method    string            `json:"method"`
	Host      string            `json:"host"`
	Path      string            `json:"path"`
	Headers   map[string]string `json:"headers"`
}

// destinationPrincipal and destinationPort name the workload every request is addressed to.
const (
	destinationPrincipal = "spiffe://example.org/api"
	destinationPort      = 8080
)

// readRequests reads the JSON array of requests in path.
func readRequests(path string) ([]request, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rs []request
	if err := json.Unmarshal(raw, &rs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("%s: no requests", path)
	}
	return rs, nil
}

// checkRequest builds the CheckRequest Envoy's ext_authz filter sends for r on an mTLS listener.
func checkRequest(r request, i int) *authv3.CheckRequest {
	id := "bench-" + strconv.Itoa(i)
	headers := map[string]string{
		":authority":        r.Host,
		":method":           r.Method,
		":path":             r.Path,
		":scheme":           "http",
		"user-agent":        "authz-load",
		"x-forwarded-proto": "http",
		"x-request-id":      id,
	}
	for k, v := range r.Headers {
		headers[k] = v
	}
	return &authv3.CheckRequest{
		Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{
				Address:   socketAddress("10.1.2.3", 40000+uint32(i%20000)),
				Principal: r.Principal,
			},
			Destination: &authv3.AttributeContext_Peer{
				Address:   socketAddress("10.9.8.7", destinationPort),
				Principal: destinationPrincipal,
			},
			Request: &authv3.AttributeContext_Request{
				Http: &authv3.AttributeContext_HttpRequest{
					Id:       id,
					Method:   r.Method,
					Headers:  headers,
					Path:     r.Path,
					Host:     r.Host,
					Scheme:   "http",
					Protocol: "HTTP/1.1",
				},
			},
		},
	}
}

func socketAddress(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       ip,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

// restBody is the body of OPA's POST /v1/data/... for r: {"input": CheckRequest as proto JSON}.
func restBody(r request, i int) ([]byte, error) {
	in, err := protojson.Marshal(checkRequest(r, i))
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]json.RawMessage{"input": in})
}
