// https-load drives an HTTPS endpoint with keep-alive HTTP/1.1 connections, presenting a client
// certificate or not, the way Parley's benchmarks need it (bench/src/secrets, bench/src/tokens):
//
//	https-load -url URL -ca CA [-cert CERT -key KEY] [-method GET|POST] [-body BODY]
//	           [-content-type TYPE] [-assertion-key KEY -assertion-client ID -assertion-aud AUD]
//	           -conns N -seconds S [-warmup W] [-rate R]
//
// With -assertion-key, every request's body is `-body` plus a fresh RFC 7523 client assertion
// (ES256, unique jti, 60 s lifetime) signed with that P-256 key for client ID and audience AUD:
// what an OAuth client using private_key_jwt sends.
//
// Closed loop (no -rate): N connections each send the next request when the previous answered.
// Open loop (-rate R): R requests per second spread over N connections, latency measured from
// the scheduled send time (so queueing counts). Prints one JSON line: requests, errors (non-2xx
// or transport), rate, p50/p90/p99/max in ms.
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
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
	body := flag.String("body", "", "request body")
	contentType := flag.String("content-type", "application/json", "Content-Type of the body")
	assertionKey := flag.String("assertion-key", "", "P-256 key (PEM) signing a client assertion per request")
	assertionClient := flag.String("assertion-client", "", "client ID of the assertions (iss and sub)")
	assertionAud := flag.String("assertion-aud", "", "audience of the assertions")
	conns := flag.Int("conns", 1, "connections")
	seconds := flag.Float64("seconds", 5, "measured seconds")
	warmup := flag.Float64("warmup", 1, "warm-up seconds")
	rate := flag.Float64("rate", 0, "requests per second (0: closed loop)")
	flag.Parse()

	pool := x509.NewCertPool()
	caPem, err := os.ReadFile(*caFile)
	check(err)
	pool.AppendCertsFromPEM(caPem)
	tlsConfig := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		check(err)
		tlsConfig.Certificates = []tls.Certificate{cert}
	}
	var signer *ecdsa.PrivateKey
	if *assertionKey != "" {
		signer = loadEcKey(*assertionKey)
	}

	clients := make([]*http.Client, *conns)
	for i := range clients {
		clients[i] = &http.Client{Transport: &http.Transport{
			TLSClientConfig: tlsConfig, MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, ForceAttemptHTTP2: false,
		}}
	}
	send := func(c *http.Client) bool {
		text := *body
		if signer != nil {
			text += "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer" +
				"&client_assertion=" + assertion(signer, *assertionClient, *assertionAud)
		}
		var rd io.Reader
		if text != "" {
			rd = bytes.NewBufferString(text)
		}
		req, _ := http.NewRequest(*method, *url, rd)
		if text != "" {
			req.Header.Set("Content-Type", *contentType)
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

// assertion signs an RFC 7523 client assertion: iss = sub = client, aud, a unique jti, 60 s.
func assertion(key *ecdsa.PrivateKey, client, aud string) string {
	b64 := base64.RawURLEncoding.EncodeToString
	jti := make([]byte, 16)
	rand.Read(jti)
	now := time.Now().Unix()
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT"})
	claims, _ := json.Marshal(map[string]any{
		"iss": client, "sub": client, "aud": aud, "jti": b64(jti), "iat": now, "exp": now + 60,
	})
	input := b64(header) + "." + b64(claims)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	check(err)
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64(sig)
}

// loadEcKey reads a P-256 private key in PKCS#8 or SEC1 PEM.
func loadEcKey(file string) *ecdsa.PrivateKey {
	data, err := os.ReadFile(file)
	check(err)
	block, _ := pem.Decode(data)
	if block == nil {
		check(fmt.Errorf("%s: no PEM block", file))
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if ec, ok := k.(*ecdsa.PrivateKey); ok {
			return ec
		}
	}
	ec, err := x509.ParseECPrivateKey(block.Bytes)
	check(err)
	return ec
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
