// Command spire-signer drives a SPIRE server's agent API the way a SPIRE agent does, for
// Parley's signing benchmark (bench/src/identity-signing.ts): it attests as an agent with a join
// token (AttestAgent), fetches the entries authorized for that agent (GetAuthorizedEntries),
// generates one P-256 key and CSR per entry before any timing, checks one signed SVID against
// the bundle, and then runs timed rounds of BatchNewX509SVID on command.
//
// Protocol: one JSON line on stdout when ready; then one command per stdin line, one JSON line
// per command on stdout:
//
//	run BATCH CONCURRENCY MILLIS   sign for MILLIS ms with CONCURRENCY batches of BATCH in flight
//	quit                           exit
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "spire-signer:", err)
		os.Exit(1)
	}
}

type options struct {
	server      string
	bundleFile  string
	trustDomain string
	joinToken   string
	entries     int
	wait        time.Duration
}

func run() error {
	var o options
	flag.StringVar(&o.server, "server", "", "host:port of spire-server")
	flag.StringVar(&o.bundleFile, "bundle", "", "PEM file of the server's bundle (spire-server bundle show)")
	flag.StringVar(&o.trustDomain, "trust-domain", "", "trust domain, e.g. example.org")
	flag.StringVar(&o.joinToken, "join-token", "", "join token to attest with")
	flag.IntVar(&o.entries, "entries", 0, "number of entries to wait for and sign for")
	flag.DurationVar(&o.wait, "wait", 60*time.Second, "how long to wait for the entries")
	flag.Parse()
	if o.server == "" || o.bundleFile == "" || o.trustDomain == "" || o.joinToken == "" || o.entries <= 0 {
		flag.Usage()
		os.Exit(2)
	}

	roots, err := loadBundle(o.bundleFile)
	if err != nil {
		return err
	}
	serverID := "spiffe://" + o.trustDomain + "/spire/server"

	// Attestation over server-authenticated TLS.
	agentKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	agentCsr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, agentKey)
	if err != nil {
		return err
	}
	chain, err := attest(o, roots, serverID, agentCsr)
	if err != nil {
		return fmt.Errorf("attestation: %w", err)
	}
	agentLeaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return err
	}

	// Everything else over mTLS with the agent SVID.
	conn, err := dial(o.server, clientTLS(roots, serverID, &tls.Certificate{Certificate: chain, PrivateKey: agentKey}))
	if err != nil {
		return err
	}
	defer conn.Close()

	entries, err := waitForEntries(entryv1.NewEntryClient(conn), o.entries, o.wait)
	if err != nil {
		return err
	}

	// One key and CSR per entry, made before any timing.
	start := time.Now()
	csrs := make([][]byte, len(entries))
	keys := make([]*ecdsa.PrivateKey, len(entries))
	for i := range entries {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		keys[i] = k
		if csrs[i], err = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k); err != nil {
			return err
		}
	}
	csrMillis := time.Since(start).Milliseconds()

	svids := svidv1.NewSVIDClient(conn)
	if err := checkOne(svids, roots, entries[0], csrs[0], keys[0]); err != nil {
		return fmt.Errorf("checking a signed SVID: %w", err)
	}

	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(map[string]any{
		"ready": true, "agentId": agentLeaf.URIs[0].String(), "entries": len(entries), "csrMillis": csrMillis,
	}); err != nil {
		return err
	}

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fields := strings.Fields(in.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "quit":
			return nil
		case "run":
			if len(fields) != 4 {
				return errors.New("usage: run BATCH CONCURRENCY MILLIS")
			}
			batch, err1 := strconv.Atoi(fields[1])
			conc, err2 := strconv.Atoi(fields[2])
			millis, err3 := strconv.Atoi(fields[3])
			if err := errors.Join(err1, err2, err3); err != nil || batch <= 0 || conc <= 0 || millis <= 0 {
				return fmt.Errorf("bad run command %q", in.Text())
			}
			if err := out.Encode(signFor(svids, entries, csrs, batch, conc, time.Duration(millis)*time.Millisecond)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown command %q", fields[0])
		}
	}
	return in.Err()
}

func loadBundle(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s holds no certificate", file)
	}
	return pool, nil
}

// clientTLS verifies the server's chain against the bundle and its SPIFFE ID (SPIRE server
// certificates carry no DNS name to check), presenting `cert` when given.
func clientTLS(roots *x509.CertPool, serverID string, cert *tls.Certificate) *tls.Config {
	c := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by VerifyPeerCertificate below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("server presented no certificate")
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			inter := x509.NewCertPool()
			for _, r := range raw[1:] {
				c, err := x509.ParseCertificate(r)
				if err != nil {
					return err
				}
				inter.AddCert(c)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				return err
			}
			for _, u := range leaf.URIs {
				if u.String() == serverID {
					return nil
				}
			}
			return fmt.Errorf("server did not present %s", serverID)
		},
	}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c
}

func dial(addr string, tc *tls.Config) (*grpc.ClientConn, error) {
	return grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
}

func attest(o options, roots *x509.CertPool, serverID string, csr []byte) ([][]byte, error) {
	conn, err := dial(o.server, clientTLS(roots, serverID, nil))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := agentv1.NewAgentClient(conn).AttestAgent(ctx)
	if err != nil {
		return nil, err
	}
	err = stream.Send(&agentv1.AttestAgentRequest{Step: &agentv1.AttestAgentRequest_Params_{Params: &agentv1.AttestAgentRequest_Params{
		Data:   &types.AttestationData{Type: "join_token", Payload: []byte(o.joinToken)},
		Params: &agentv1.AgentX509SVIDParams{Csr: csr},
	}}})
	if err != nil {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	result := resp.GetResult()
	if result == nil || len(result.GetSvid().GetCertChain()) == 0 {
		return nil, errors.New("no SVID in the attestation result")
	}
	return result.GetSvid().GetCertChain(), nil
}

type entry struct {
	id       string
	spiffeID string
}

func waitForEntries(client entryv1.EntryClient, want int, wait time.Duration) ([]entry, error) {
	deadline := time.Now().Add(wait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err := client.GetAuthorizedEntries(ctx, &entryv1.GetAuthorizedEntriesRequest{
			OutputMask: &types.EntryMask{SpiffeId: true},
		})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("GetAuthorizedEntries: %w", err)
		}
		if len(resp.Entries) >= want {
			entries := make([]entry, 0, len(resp.Entries))
			for _, e := range resp.Entries {
				td, path := e.GetSpiffeId().GetTrustDomain(), e.GetSpiffeId().GetPath()
				entries = append(entries, entry{id: e.GetId(), spiffeID: "spiffe://" + td + path})
			}
			sort.Slice(entries, func(i, j int) bool { return entries[i].id < entries[j].id })
			return entries[:want], nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("only %d of %d entries authorized after %s", len(resp.Entries), want, wait)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkOne signs one CSR and checks the SVID: it chains to the bundle, names the entry's SPIFFE
// ID and certifies the key the CSR was made with.
func checkOne(client svidv1.SVIDClient, roots *x509.CertPool, e entry, csr []byte, key *ecdsa.PrivateKey) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := client.BatchNewX509SVID(ctx, &svidv1.BatchNewX509SVIDRequest{
		Params: []*svidv1.NewX509SVIDParams{{EntryId: e.id, Csr: csr}},
	})
	if err != nil {
		return err
	}
	if len(resp.Results) != 1 || resp.Results[0].GetStatus().GetCode() != 0 {
		return fmt.Errorf("not signed: %v", resp.Results)
	}
	chain := resp.Results[0].GetSvid().GetCertChain()
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return err
	}
	inter := x509.NewCertPool()
	for _, r := range chain[1:] {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return err
		}
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return err
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != e.spiffeID {
		return fmt.Errorf("SVID names %v, want %s", leaf.URIs, e.spiffeID)
	}
	if !key.PublicKey.Equal(leaf.PublicKey) {
		return errors.New("SVID certifies another key")
	}
	return nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// signFor keeps `conc` batches of `batch` CSRs in flight until `d` has passed, then waits for the
// last ones; the entries are used round-robin.
func signFor(client svidv1.SVIDClient, entries []entry, csrs [][]byte, batch, conc int, d time.Duration) map[string]any {
	var next, signed, failed atomic.Int64
	var firstErr atomic.Value
	cpu0 := cpuSeconds()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				base := int(next.Add(int64(batch))) - batch
				params := make([]*svidv1.NewX509SVIDParams, batch)
				for i := range params {
					k := (base + i) % len(entries)
					params[i] = &svidv1.NewX509SVIDParams{EntryId: entries[k].id, Csr: csrs[k]}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				resp, err := client.BatchNewX509SVID(ctx, &svidv1.BatchNewX509SVIDRequest{Params: params})
				cancel()
				if err != nil {
					failed.Add(int64(batch))
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				for _, r := range resp.Results {
					if r.GetStatus().GetCode() == 0 && len(r.GetSvid().GetCertChain()) > 0 {
						signed.Add(1)
					} else {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, r.GetStatus().GetMessage())
					}
				}
			}
		}()
	}
	wg.Wait()
	result := map[string]any{
		"svids":      signed.Load(),
		"errors":     failed.Load(),
		"seconds":    time.Since(start).Seconds(),
		"cpuSeconds": cpuSeconds() - cpu0,
	}
	if e := firstErr.Load(); e != nil {
		result["firstError"] = e
	}
	return result
}
