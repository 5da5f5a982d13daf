package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
)

// opaCheckServer answers Check by evaluating a prepared Rego query with OPA's Go library, building
// the input document the way OPA's Envoy plugin does: the CheckRequest as proto JSON plus
// parsed_path and parsed_query.
type opaCheckServer struct {
	authv3.UnimplementedAuthorizationServer
	query rego.PreparedEvalQuery
}

func (s *opaCheckServer) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	raw, err := protojson.Marshal(req)
	if err != nil {
		return nil, err
	}
	var input map[string]any
	if err := json.Unmarshal(raw, &input); err != nil {
		return nil, err
	}
	path := req.GetAttributes().GetRequest().GetHttp().GetPath()
	u, err := url.Parse(path)
	if err != nil {
		return nil, err
	}
	segments := []any{}
	for _, p := range strings.Split(strings.TrimLeft(u.Path, "/"), "/") {
		segments = append(segments, p)
	}
	input["parsed_path"] = segments
	query := map[string]any{}
	for k, vs := range u.Query() {
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = v
		}
		query[k] = list
	}
	input["parsed_query"] = query
	value, err := ast.InterfaceToValue(input)
	if err != nil {
		return nil, err
	}
	rs, err := s.query.Eval(ctx, rego.EvalParsedInput(value))
	if err != nil {
		return nil, err
	}
	allowed := false
	if len(rs) == 1 && len(rs[0].Expressions) == 1 {
		allowed, _ = rs[0].Expressions[0].Value.(bool)
	}
	if allowed {
		return &authv3.CheckResponse{
			Status:       &status.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
		}, nil
	}
	return &authv3.CheckResponse{
		Status: &status.Status{Code: int32(codes.PermissionDenied)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden},
		}},
	}, nil
}

func runOpaCheckServer(args []string) error {
	fs := flag.NewFlagSet("opa-check-server", flag.ContinueOnError)
	policy := fs.String("policy", "", "Rego module")
	queryText := fs.String("query", "", "the decision, e.g. data.parley.authz.allow")
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *policy == "" || *queryText == "" {
		return errors.New("--policy and --query are required")
	}
	src, err := os.ReadFile(*policy)
	if err != nil {
		return err
	}
	ctx := context.Background()
	pq, err := rego.New(rego.Query(*queryText), rego.Module(*policy, string(src))).PrepareForEval(ctx)
	if err != nil {
		return fmt.Errorf("preparing %s: %w", *queryText, err)
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, &opaCheckServer{query: pq})
	if err := json.NewEncoder(os.Stdout).Encode(map[string]int{"port": lis.Addr().(*net.TCPAddr).Port}); err != nil {
		return err
	}
	return srv.Serve(lis)
}
