package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// wlFlags are the flags every Workload API subcommand takes.
type wlFlags struct {
	socket  string
	timeout time.Duration
}

func addWLFlags(fs *flag.FlagSet) *wlFlags {
	f := &wlFlags{}
	fs.StringVar(&f.socket, "socket", "", "Workload API address, e.g. unix:///tmp/agent.sock (default $SPIFFE_ENDPOINT_SOCKET)")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "deadline for the whole operation")
	return f
}

// client dials the Workload API. The returned context carries the deadline.
func (f *wlFlags) client() (context.Context, context.CancelFunc, *workloadapi.Client, error) {
	if f.timeout <= 0 {
		return nil, nil, nil, usagef("--timeout must be positive")
	}
	addr, from := f.socket, "--socket"
	if addr == "" {
		addr, _ = workloadapi.GetDefaultAddress()
		from = "$" + workloadapi.SocketEnv
	}
	if addr == "" {
		return nil, nil, nil, usagef("no --socket and %s is not set", workloadapi.SocketEnv)
	}
	if err := workloadapi.ValidateAddress(addr); err != nil {
		return nil, nil, nil, usagef("%s: %v", from, err)
	}
	opts := []workloadapi.ClientOption{workloadapi.WithAddr(addr)}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	c, err := workloadapi.New(ctx, opts...)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return ctx, func() { c.Close(); cancel() }, c, nil
}

func noPositional(pos []string) error {
	if len(pos) != 0 {
		return usagef("unexpected arguments: %s", strings.Join(pos, " "))
	}
	return nil
}

type x509SVIDOutput struct {
	SpiffeID string `json:"spiffeId"`
	Hint     string `json:"hint"`
	NotAfter string `json:"notAfter"`
	Verified bool   `json:"verified"`
}

type fetchX509Output struct {
	SVIDs   []x509SVIDOutput `json:"svids"`
	Bundles []string         `json:"bundles"`
}

func cmdFetchX509(args []string, stdout io.Writer) error {
	fs := newFlags("fetch-x509")
	wl := addWLFlags(fs)
	writeDir := fs.String("write", "", "write svid.N.pem, svid.N.key and bundle.N.pem into this directory")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noPositional(pos); err != nil {
		return err
	}
	ctx, done, client, err := wl.client()
	if err != nil {
		return err
	}
	defer done()

	x509Ctx, err := client.FetchX509Context(ctx)
	if err != nil {
		return fmt.Errorf("fetch X.509 context: %w", err)
	}
	out := fetchX509Output{SVIDs: []x509SVIDOutput{}, Bundles: []string{}}
	for i, svid := range x509Ctx.SVIDs {
		id, _, err := x509svid.Verify(svid.Certificates, x509Ctx.Bundles)
		if err != nil {
			return fmt.Errorf("svid %d (%s): %w", i, svid.ID, err)
		}
		if id != svid.ID {
			return fmt.Errorf("svid %d: verified ID %s differs from %s", i, id, svid.ID)
		}
		out.SVIDs = append(out.SVIDs, x509SVIDOutput{
			SpiffeID: svid.ID.String(),
			Hint:     svid.Hint,
			NotAfter: svid.Certificates[0].NotAfter.UTC().Format(time.RFC3339),
			Verified: true,
		})
	}
	for _, b := range x509Ctx.Bundles.Bundles() {
		out.Bundles = append(out.Bundles, b.TrustDomain().Name())
	}
	if *writeDir != "" {
		if err := writeX509Files(*writeDir, x509Ctx); err != nil {
			return err
		}
	}
	return writeJSON(stdout, out)
}

// writeX509Files writes, for every SVID N: svid.N.pem (chain, leaf first),
// svid.N.key (PKCS#8) and bundle.N.pem (the X.509 authorities of SVID N's
// trust domain).
func writeX509Files(dir string, x509Ctx *workloadapi.X509Context) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, svid := range x509Ctx.SVIDs {
		certPEM, keyPEM, err := svid.Marshal()
		if err != nil {
			return fmt.Errorf("svid %d: %w", i, err)
		}
		bundle, err := x509Ctx.Bundles.GetX509BundleForTrustDomain(svid.ID.TrustDomain())
		if err != nil {
			return fmt.Errorf("svid %d: %w", i, err)
		}
		var bundlePEM []byte
		for _, cert := range bundle.X509Authorities() {
			bundlePEM = append(bundlePEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
		}
		files := []struct {
			name string
			data []byte
			mode os.FileMode
		}{
			{fmt.Sprintf("svid.%d.pem", i), certPEM, 0o644},
			{fmt.Sprintf("svid.%d.key", i), keyPEM, 0o600},
			{fmt.Sprintf("bundle.%d.pem", i), bundlePEM, 0o644},
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
				return err
			}
		}
	}
	return nil
}

type fetchJWTOutput struct {
	SpiffeID string   `json:"spiffeId"`
	Token    string   `json:"token"`
	Audience []string `json:"audience"`
	Expiry   string   `json:"expiry"`
	Hint     string   `json:"hint"`
}

func cmdFetchJWT(args []string, stdout io.Writer) error {
	fs := newFlags("fetch-jwt")
	wl := addWLFlags(fs)
	var audience stringList
	fs.Var(&audience, "audience", "audience (repeatable; at least one)")
	spiffeID := fs.String("spiffe-id", "", "request the JWT-SVID of this SPIFFE ID (default: the default identity)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noPositional(pos); err != nil {
		return err
	}
	if len(audience) == 0 {
		return usagef("need at least one --audience")
	}
	params := jwtsvid.Params{Audience: audience[0], ExtraAudiences: audience[1:]}
	if *spiffeID != "" {
		if params.Subject, err = spiffeid.FromString(*spiffeID); err != nil {
			return usagef("--spiffe-id: %v", err)
		}
	}
	ctx, done, client, err := wl.client()
	if err != nil {
		return err
	}
	defer done()

	svid, err := client.FetchJWTSVID(ctx, params)
	if err != nil {
		return fmt.Errorf("fetch JWT-SVID: %w", err)
	}
	bundles, err := client.FetchJWTBundles(ctx)
	if err != nil {
		return fmt.Errorf("fetch JWT bundles: %w", err)
	}
	validated, err := jwtsvid.ParseAndValidate(svid.Marshal(), bundles, audience)
	if err != nil {
		return fmt.Errorf("fetched JWT-SVID does not validate against the fetched JWT bundles: %w", err)
	}
	if validated.ID != svid.ID {
		return fmt.Errorf("validated ID %s differs from %s", validated.ID, svid.ID)
	}
	aud := validated.Audience
	if aud == nil {
		aud = []string{}
	}
	return writeJSON(stdout, fetchJWTOutput{
		SpiffeID: validated.ID.String(),
		Token:    svid.Marshal(),
		Audience: aud,
		Expiry:   validated.Expiry.UTC().Format(time.RFC3339),
		Hint:     svid.Hint,
	})
}

func cmdValidateJWT(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlags("validate-jwt")
	wl := addWLFlags(fs)
	audience := fs.String("audience", "", "audience the validator identifies with")
	token := fs.String("token", "", "the JWT-SVID, or - to read it from stdin")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noPositional(pos); err != nil {
		return err
	}
	if *audience == "" || *token == "" {
		return usagef("need --audience A --token T")
	}
	tok, err := readArgOrStdin(*token, stdin)
	if err != nil {
		return err
	}
	ctx, done, client, err := wl.client()
	if err != nil {
		return err
	}
	defer done()

	// The agent validates; go-spiffe then re-parses the token without
	// checking the signature (but with exp/aud checks) to return the claims.
	svid, err := client.ValidateJWTSVID(ctx, tok, *audience)
	if err != nil {
		return fmt.Errorf("validate JWT-SVID: %w", err)
	}
	return writeJSON(stdout, claimsOutput(svid))
}

func cmdFetchJWTBundles(args []string, stdout io.Writer) error {
	fs := newFlags("fetch-jwt-bundles")
	wl := addWLFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noPositional(pos); err != nil {
		return err
	}
	ctx, done, client, err := wl.client()
	if err != nil {
		return err
	}
	defer done()

	bundles, err := client.FetchJWTBundles(ctx)
	if err != nil {
		return fmt.Errorf("fetch JWT bundles: %w", err)
	}
	out := map[string]json.RawMessage{}
	for _, b := range bundles.Bundles() {
		jwks, err := b.Marshal()
		if err != nil {
			return err
		}
		out[b.TrustDomain().Name()] = jwks
	}
	return writeJSON(stdout, out)
}

type watchLine struct {
	Seq      int    `json:"seq"`
	SpiffeID string `json:"spiffeId"`
	Serial   string `json:"serial"`
	NotAfter string `json:"notAfter"`
}

// watcher implements workloadapi.X509ContextWatcher.
type watcher struct {
	mu     sync.Mutex
	out    io.Writer
	want   int
	seen   int
	err    error
	cancel context.CancelFunc
}

func (w *watcher) OnX509ContextUpdate(c *workloadapi.X509Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen >= w.want || w.err != nil {
		return
	}
	w.seen++
	svid := c.DefaultSVID()
	leaf := svid.Certificates[0]
	if err := writeJSON(w.out, watchLine{
		Seq:      w.seen,
		SpiffeID: svid.ID.String(),
		Serial:   leaf.SerialNumber.Text(16),
		NotAfter: leaf.NotAfter.UTC().Format(time.RFC3339),
	}); err != nil {
		w.err = err
	}
	if w.seen >= w.want || w.err != nil {
		w.cancel()
	}
}

func (w *watcher) OnX509ContextWatchError(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen >= w.want || w.err != nil {
		return // the cancellation that ends a finished watch
	}
	w.err = err
	w.cancel()
}

func cmdWatch(args []string, stdout io.Writer) error {
	fs := newFlags("watch")
	wl := addWLFlags(fs)
	count := fs.Int("count", 1, "exit 0 after this many X.509 context updates")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noPositional(pos); err != nil {
		return err
	}
	if *count < 1 {
		return usagef("--count must be at least 1")
	}
	ctx, done, client, err := wl.client()
	if err != nil {
		return err
	}
	defer done()

	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &watcher{out: stdout, want: *count, cancel: cancel}
	watchErr := client.WatchX509Context(watchCtx, w)

	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.seen >= w.want && w.err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("watch timed out after %s with %d of %d updates", wl.timeout, w.seen, w.want)
	case w.err != nil:
		return fmt.Errorf("watch failed after %d of %d updates: %w", w.seen, w.want, w.err)
	default:
		return fmt.Errorf("watch ended after %d of %d updates: %v", w.seen, w.want, watchErr)
	}
}
