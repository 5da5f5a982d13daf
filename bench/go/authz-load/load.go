package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// decider sends request number i of the stream (by worker w) and says whether it was allowed.
type decider interface {
	decide(ctx context.Context, w, i int) (bool, error)
	close()
}

// grpcTarget sends Check calls over a few HTTP/2 connections.
type grpcTarget struct {
	conns    []*grpc.ClientConn
	clients  []authv3.AuthorizationClient
	requests []*authv3.CheckRequest
}

func newGrpcTarget(addr string, conns int, rs []request) (*grpcTarget, error) {
	t := &grpcTarget{}
	for range conns {
		// Each grpc.NewClient is its own HTTP/2 connection (no shared subchannel pool).
		c, err := grpc.NewClient("passthrough:///"+addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithInitialWindowSize(1<<20), grpc.WithInitialConnWindowSize(1<<22))
		if err != nil {
			t.close()
			return nil, err
		}
		c.Connect()
		t.conns = append(t.conns, c)
		t.clients = append(t.clients, authv3.NewAuthorizationClient(c))
	}
	for i, r := range rs {
		t.requests = append(t.requests, checkRequest(r, i))
	}
	return t, nil
}

func (t *grpcTarget) decide(ctx context.Context, w, i int) (bool, error) {
	res, err := t.clients[w%len(t.clients)].Check(ctx, t.requests[i])
	if err != nil {
		return false, err
	}
	switch code := codes.Code(res.GetStatus().GetCode()); code {
	case codes.OK:
		return true, nil
	case codes.PermissionDenied, codes.Unauthenticated:
		return false, nil
	default:
		return false, fmt.Errorf("CheckResponse status %s", code)
	}
}

func (t *grpcTarget) close() {
	for _, c := range t.conns {
		_ = c.Close()
	}
}

// restTarget posts OPA input documents over keep-alive HTTP/1.1 connections.
type restTarget struct {
	url    string
	client *http.Client
	bodies [][]byte
}

func newRestTarget(url string, conns int, rs []request) (*restTarget, error) {
	tr := &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	t := &restTarget{url: url, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	for i, r := range rs {
		b, err := restBody(r, i)
		if err != nil {
			return nil, err
		}
		t.bodies = append(t.bodies, b)
	}
	return t, nil
}

func (t *restTarget) decide(ctx context.Context, _, i int) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(t.bodies[i]))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := t.client.Do(req)
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return false, err
	}
	if res.StatusCode != http.StatusOK {
		return false, fmt.Errorf("HTTP %d: %.200s", res.StatusCode, body)
	}
	var out struct {
		Result *bool `json:"result"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return false, err
	}
	if out.Result == nil {
		return false, errors.New("the decision is undefined")
	}
	return *out.Result, nil
}

func (t *restTarget) close() { t.client.CloseIdleConnections() }

func newDecider(target string, conns int, rs []request) (decider, error) {
	switch {
	case strings.HasPrefix(target, "grpc://"):
		return newGrpcTarget(strings.TrimPrefix(target, "grpc://"), conns, rs)
	case strings.HasPrefix(target, "http://"):
		return newRestTarget(target, conns, rs)
	default:
		return nil, fmt.Errorf("--target must be grpc://HOST:PORT or http://HOST:PORT/v1/data/...: %q", target)
	}
}

// loadResult is the JSON line `load` prints.
type loadResult struct {
	Decisions       int     `json:"decisions"`
	Seconds         float64 `json:"seconds"`
	PerSecond       float64 `json:"perSecond"`
	P50Ms           float64 `json:"p50Ms"`
	P99Ms           float64 `json:"p99Ms"`
	MaxMs           float64 `json:"maxMs"`
	Allowed         int     `json:"allowed"`
	Denied          int     `json:"denied"`
	Errors          int     `json:"errors"`
	FirstError      string  `json:"firstError,omitempty"`
	InFlight        int     `json:"inFlight"`
	LoaderCPUSecond float64 `json:"loaderCpuSeconds"`
}

func runLoad(args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	target := fs.String("target", "", "grpc://HOST:PORT or http://HOST:PORT/v1/data/PKG/RULE")
	file := fs.String("requests", "", "JSON array of requests")
	conns := fs.Int("conns", 4, "connections (REST: conns*streams connections)")
	streams := fs.Int("streams", 16, "calls in flight per connection")
	warmup := fs.Duration("warmup", 2*time.Second, "load before measuring")
	duration := fs.Duration("duration", 8*time.Second, "measured time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *conns < 1 || *streams < 1 || *duration <= 0 || *warmup < 0 {
		return errors.New("--conns and --streams must be at least 1, --duration positive")
	}
	rs, err := readRequests(*file)
	if err != nil {
		return err
	}
	workers := *conns * *streams
	dconns := *conns
	if strings.HasPrefix(*target, "http://") {
		dconns = workers
	}
	d, err := newDecider(*target, dconns, rs)
	if err != nil {
		return err
	}
	defer d.close()

	var next atomic.Uint64
	var measuring atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type tally struct {
		lat                   []int64
		allowed, denied, errs int
		firstErr              error
	}
	tallies := make([]tally, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := &tallies[w]
			t.lat = make([]int64, 0, 1<<16)
			for ctx.Err() == nil {
				i := int((next.Add(1) - 1) % uint64(len(rs)))
				start := time.Now()
				allow, err := d.decide(ctx, w, i)
				took := time.Since(start)
				if !measuring.Load() || ctx.Err() != nil {
					continue
				}
				switch {
				case err != nil:
					t.errs++
					if t.firstErr == nil {
						t.firstErr = err
					}
				case allow:
					t.allowed++
				default:
					t.denied++
				}
				t.lat = append(t.lat, took.Nanoseconds())
			}
		}()
	}
	time.Sleep(*warmup)
	cpu0 := cpuSeconds()
	measuring.Store(true)
	t0 := time.Now()
	time.Sleep(*duration)
	measuring.Store(false)
	elapsed := time.Since(t0).Seconds()
	cpu := cpuSeconds() - cpu0
	cancel()
	wg.Wait()

	res := loadResult{Seconds: elapsed, InFlight: workers, LoaderCPUSecond: cpu}
	var lat []int64
	for _, t := range tallies {
		lat = append(lat, t.lat...)
		res.Allowed += t.allowed
		res.Denied += t.denied
		res.Errors += t.errs
		if t.firstErr != nil && res.FirstError == "" {
			res.FirstError = t.firstErr.Error()
		}
	}
	res.Decisions = res.Allowed + res.Denied
	res.PerSecond = float64(res.Decisions) / elapsed
	slices.Sort(lat)
	res.P50Ms = percentileMs(lat, 0.50)
	res.P99Ms = percentileMs(lat, 0.99)
	res.MaxMs = percentileMs(lat, 1)
	return json.NewEncoder(os.Stdout).Encode(res)
}

// percentileMs is the q-quantile (nearest rank) of sorted nanosecond latencies, in milliseconds.
func percentileMs(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	k := int(q*float64(len(sorted))+0.5) - 1
	k = max(0, min(k, len(sorted)-1))
	return float64(sorted[k]) / 1e6
}

// cpuSeconds is this process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func runDecide(args []string) error {
	fs := flag.NewFlagSet("decide", flag.ContinueOnError)
	target := fs.String("target", "", "grpc://HOST:PORT or http://HOST:PORT/v1/data/PKG/RULE")
	file := fs.String("requests", "", "JSON array of requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rs, err := readRequests(*file)
	if err != nil {
		return err
	}
	d, err := newDecider(*target, 1, rs)
	if err != nil {
		return err
	}
	defer d.close()
	out := make([]string, len(rs))
	for i := range rs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		allow, err := d.decide(ctx, 0, i)
		cancel()
		switch {
		case err != nil:
			out[i] = "error: " + err.Error()
		case allow:
			out[i] = "allow"
		default:
			out[i] = "deny"
		}
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}
