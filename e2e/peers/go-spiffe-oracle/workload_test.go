package main

// Runs the Workload API subcommands against a small fake Workload API
// server (go-spiffe's public proto package + gRPC on a Unix socket). The real
// thing (spire-agent) is exercised by the e2e suites; this keeps the client
// side honest without one.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type fakeAgent struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	t        *testing.T
	root     certKey
	updates  int // X.509 context updates to stream before going quiet
	jwtKey   *ecdsa.PrivateKey
	jwksJSON []byte
}

func (a *fakeAgent) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	for i := 0; i < a.updates; i++ {
		leaf := mkCert(a.t, leafTmpl("spiffe://example.org/workload"), &a.root)
		leaf.cert.NotAfter = leaf.cert.NotAfter.UTC()
		key, err := x509.MarshalPKCS8PrivateKey(leaf.key)
		if err != nil {
			return err
		}
		if err := stream.Send(&workload.X509SVIDResponse{Svids: []*workload.X509SVID{{
			SpiffeId:    "spiffe://example.org/workload",
			X509Svid:    leaf.cert.Raw,
			X509SvidKey: key,
			Bundle:      a.root.cert.Raw,
			Hint:        "internal",
		}}}); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	<-stream.Context().Done()
	return nil
}

func (a *fakeAgent) FetchJWTSVID(_ context.Context, req *workload.JWTSVIDRequest) (*workload.JWTSVIDResponse, error) {
	if len(req.Audience) == 0 {
		return nil, status.Error(codes.InvalidArgument, "audience required")
	}
	sub := "spiffe://example.org/workload"
	if req.SpiffeId != "" {
		sub = req.SpiffeId
	}
	claims, _ := json.Marshal(map[string]any{"sub": sub, "aud": req.Audience, "exp": time.Now().Add(time.Hour).Unix()})
	tok := sign(a.t, `{"alg":"ES256","kid":"k","typ":"JWT"}`, string(claims), a.jwtKey, "ES256")
	return &workload.JWTSVIDResponse{Svids: []*workload.JWTSVID{{SpiffeId: sub, Svid: tok}}}, nil
}

func (a *fakeAgent) FetchJWTBundles(_ *workload.JWTBundlesRequest, stream grpc.ServerStreamingServer[workload.JWTBundlesResponse]) error {
	if err := stream.Send(&workload.JWTBundlesResponse{Bundles: map[string][]byte{"spiffe://example.org": a.jwksJSON}}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

func (a *fakeAgent) ValidateJWTSVID(_ context.Context, req *workload.ValidateJWTSVIDRequest) (*workload.ValidateJWTSVIDResponse, error) {
	b, err := jwtbundle.Parse(spiffeid.RequireTrustDomainFromString("example.org"), a.jwksJSON)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	svid, err := jwtsvid.ParseAndValidate(req.Svid, b, []string{req.Audience})
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &workload.ValidateJWTSVIDResponse{SpiffeId: svid.ID.String()}, nil
}

func startFakeAgent(t *testing.T, updates int) string {
	t.Helper()
	jwtKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a := &fakeAgent{
		t: t, updates: updates, jwtKey: jwtKey,
		root:     mkCert(t, caTmpl("spiffe://example.org"), nil),
		jwksJSON: []byte(mustJSON(map[string]any{"keys": []any{with(ecJWK(&jwtKey.PublicKey), "kid", "k")}})),
	}
	dir, err := os.MkdirTemp("", "wl") // short path: Unix socket names are limited to ~108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(srv, a)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return "unix://" + sock
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestWorkloadAPICommands(t *testing.T) {
	sock := startFakeAgent(t, 3)
	dir := t.TempDir()

	code, out, errOut := runCmd(t, "fetch-x509", "--socket", sock, "--write", dir)
	if code != 0 {
		t.Fatalf("fetch-x509: exit %d: %s", code, errOut)
	}
	var fx fetchX509Output
	if err := json.Unmarshal([]byte(out), &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.SVIDs) != 1 || fx.SVIDs[0].SpiffeID != "spiffe://example.org/workload" || !fx.SVIDs[0].Verified ||
		fx.SVIDs[0].Hint != "internal" || strings.Join(fx.Bundles, ",") != "example.org" {
		t.Errorf("fetch-x509: %s", out)
	}
	for _, f := range []string{"svid.0.pem", "svid.0.key", "bundle.0.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	// The written files verify with verify-x509.
	code, out, errOut = runCmd(t, "verify-x509", "--svid", filepath.Join(dir, "svid.0.pem"),
		"--bundle", filepath.Join(dir, "bundle.0.pem"), "--trust-domain", "example.org")
	if code != 0 || strings.TrimSpace(out) != "spiffe://example.org/workload" {
		t.Errorf("verify-x509 of written files: exit %d: %s %s", code, out, errOut)
	}

	code, out, errOut = runCmd(t, "fetch-jwt", "--socket", sock, "--audience", "svc-a", "--audience", "svc-b")
	if code != 0 {
		t.Fatalf("fetch-jwt: exit %d: %s", code, errOut)
	}
	var fj fetchJWTOutput
	if err := json.Unmarshal([]byte(out), &fj); err != nil {
		t.Fatal(err)
	}
	if fj.SpiffeID != "spiffe://example.org/workload" || fj.Token == "" || strings.Join(fj.Audience, ",") != "svc-a,svc-b" {
		t.Errorf("fetch-jwt: %s", out)
	}

	code, out, errOut = runCmd(t, "validate-jwt", "--socket", sock, "--audience", "svc-b", "--token", fj.Token)
	if code != 0 || !strings.Contains(out, `"spiffeId":"spiffe://example.org/workload"`) {
		t.Errorf("validate-jwt: exit %d: %s %s", code, out, errOut)
	}
	code, _, errOut = runCmd(t, "validate-jwt", "--socket", sock, "--audience", "other", "--token", fj.Token)
	if code != 1 || !strings.Contains(errOut, "InvalidArgument") {
		t.Errorf("validate-jwt wrong audience: exit %d: %s", code, errOut)
	}

	code, out, errOut = runCmd(t, "fetch-jwt-bundles", "--socket", sock)
	if code != 0 || !strings.Contains(out, `"example.org":{"keys":[{`) {
		t.Errorf("fetch-jwt-bundles: exit %d: %s %s", code, out, errOut)
	}

	code, out, errOut = runCmd(t, "watch", "--socket", sock, "--count", "3", "--timeout", "5s")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("watch: exit %d: %q %s", code, out, errOut)
	}
	serials := map[string]bool{}
	for i, l := range lines {
		var w watchLine
		if err := json.Unmarshal([]byte(l), &w); err != nil {
			t.Fatal(err)
		}
		if w.Seq != i+1 || w.SpiffeID != "spiffe://example.org/workload" || w.NotAfter == "" {
			t.Errorf("watch line %d: %s", i, l)
		}
		serials[w.Serial] = true
	}
	if len(serials) != 3 {
		t.Errorf("watch: serials not distinct: %v", serials)
	}

	start := time.Now()
	code, out, errOut = runCmd(t, "watch", "--socket", sock, "--count", "4", "--timeout", "1s")
	if code != 1 || strings.Count(out, "\n") != 3 || !strings.Contains(errOut, "timed out") {
		t.Errorf("watch timeout: exit %d: %q %s", code, out, errOut)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("watch timeout took %s", d)
	}
}

func TestWorkloadAPIErrors(t *testing.T) {
	t.Setenv("SPIFFE_ENDPOINT_SOCKET", "")
	os.Unsetenv("SPIFFE_ENDPOINT_SOCKET")
	if code, _, errOut := runCmd(t, "fetch-x509"); code != 2 {
		t.Errorf("no socket: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, "fetch-x509", "--socket", "http://x"); code != 2 {
		t.Errorf("bad socket: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, "fetch-jwt", "--socket", "unix:///nonexistent/x.sock"); code != 2 {
		t.Errorf("fetch-jwt without audience: exit %d: %s", code, errOut)
	}
	start := time.Now()
	code, _, errOut := runCmd(t, "fetch-x509", "--socket", "unix:///nonexistent/x.sock", "--timeout", "2s")
	if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("missing socket: exit %d: %q", code, errOut)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("missing socket took %s", d)
	}
	t.Setenv("SPIFFE_ENDPOINT_SOCKET", "unix:///nonexistent/x.sock")
	if code, _, errOut := runCmd(t, "watch", "--count", "1", "--timeout", "1s"); code != 1 {
		t.Errorf("watch with missing socket: exit %d: %s", code, errOut)
	}
}
