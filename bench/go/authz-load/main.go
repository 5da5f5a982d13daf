// Command authz-load is the Check-API benchmark's Go peer (bench/src/authz/check-bench.ts):
//
//	authz-load load    --target grpc://HOST:PORT | http://HOST:PORT/v1/data/PKG/RULE --requests FILE
//	                   [--conns 4] [--streams 16] [--warmup 2s] [--duration 8s]
//	authz-load decide  --target ... --requests FILE
//	authz-load opa-check-server --policy FILE.rego --query data.PKG.RULE [--listen 127.0.0.1:0]
//
// load sends the requests of FILE round-robin for a fixed time, --conns HTTP/2 connections with
// --streams unary Check calls in flight on each (REST targets: conns*streams keep-alive HTTP/1.1
// connections, one request in flight on each), and prints one JSON line: decisions per second,
// latency percentiles, allow/deny/error counts and its own CPU time. decide sends each request
// once, in order, and prints the decisions as a JSON array ("allow", "deny" or "error: ...").
// opa-check-server serves envoy.service.auth.v3.Authorization/Check with a Rego policy evaluated
// in-process by OPA's Go library, prints {"port": N} once it listens and runs until killed.
//
// A request of FILE is {"principal", "method", "host", "path", "headers"?} (a JSON array); it is
// sent as the CheckRequest Envoy's ext_authz filter would build for it, or for a REST target as
// {"input": <that CheckRequest as proto JSON>}, the input document of OPA's Envoy plugin.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: authz-load load|decide|opa-check-server [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "load":
		err = runLoad(os.Args[2:])
	case "decide":
		err = runDecide(os.Args[2:])
	case "opa-check-server":
		err = runOpaCheckServer(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "authz-load %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
