// secrets-load drives an HTTPS endpoint with keep-alive HTTP/1.1 connections presenting a client
// certificate, the way Parley's secrets benchmark needs it (bench/src/secrets/secrets-bench.ts):
//
//	secrets-load -url URL -ca CA -cert CERT -key KEY [-method GET|POST] [-body JSON]
//	             -conns N -seconds S [-warmup W] [-rate R]
//
// Closed loop (no -rate): N connections each send the next request when the previous answered.
// Open loop (-rate R): R requests per second spread over N connections, latency measured from
// the scheduled send time (so queueing counts). Prints one JSON line: requests, errors (non-2xx
// or transport), rate, p50/p90/p99/max in ms.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"
)

type result struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Rate     float64 `json:"rate"`
	P50      float64 `json:"p50Ms"`
	P90      float64 `json:"p90Ms"`
	P99      float64 `json:"p99Ms"`
	Max      float64 `json:"maxMs"`
}

func main() {
	url := flag.String("url", "", "target URL")
	caFile := flag.String("ca", "", "CA bundle (PEM)")
	certFile := flag.String("cert", "", "client certificate chain (PEM)")
	keyFile := flag.String("key", "", "client key (PEM)")
	method := flag.String("method", "GET", "HTTP method")
	body := flag.String("body", "", "request body (JSON)")
	conns := flag.Int("conns", 1, "connections")
	seconds := flag.Float64("seconds", 5, "measured seconds")
	warmup := flag.Float64("warmup", 1, "warm-up seconds")
	rate := flag.Float64("rate", 0, "requests per second (0: closed loop)")
	flag.Parse()

	pool := x509.NewCertPool()
	caPem, err := os.ReadFile(*caFile)
	check(err)
	pool.AppendCertsFromPEM(caPem)
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	check(err)
	tlsConfig := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: "localhost"}

	clients := make([]*http.Client, *conns)
	for i := range clients {
		clients[i] = &http.Client{Transport: &http.Transport{
			TLSClientConfig: tlsConfig, MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, ForceAttemptHTTP2: false,
		}}
	}
	send := func(c *http.Client) bool {
		var rd io.Reader
		if *body != "" {
			rd = bytes.NewBufferString(*body)
		}
		req, _ := http.NewRequest(*method, *url, rd)
		if *body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := c.Do(req)
		if err != nil {
			return false
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode >= 200 && res.StatusCode < 300
	}

	var mu sync.Mutex
	var latencies []float64
	errors := 0
	start := time.Now().Add(time.Duration(*warmup * float64(time.Second)))
	end := start.Add(time.Duration(*seconds * float64(time.Second)))
	record := func(t0 time.Time, ok bool) {
		if t0.Before(start) || t0.After(end) {
			return
		}
		d := float64(time.Since(t0).Microseconds()) / 1000
		mu.Lock()
		latencies = append(latencies, d)
		if !ok {
			errors++
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func(c *http.Client, i int) {
			defer wg.Done()
			if *rate <= 0 {
				for time.Now().Before(end) {
					t0 := time.Now()
					record(t0, send(c))
				}
				return
			}
			interval := time.Duration(float64(time.Second) * float64(*conns) / *rate)
			next := time.Now().Add(time.Duration(i) * interval / time.Duration(*conns))
			for next.Before(end) {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				record(next, send(c))
				next = next.Add(interval)
			}
		}(clients[i], i)
	}
	wg.Wait()
	sort.Float64s(latencies)
	q := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[int(p*float64(len(latencies)-1))]
	}
	out := result{Requests: len(latencies), Errors: errors, Rate: float64(len(latencies)) / *seconds,
		P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: q(1)}
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
