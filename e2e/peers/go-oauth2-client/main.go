// go-oauth2-client gets an access token from an OAuth 2.0 token endpoint with Go's
// golang.org/x/oauth2/clientcredentials, the client id sent in HTTP Basic (form-encoded, as
// RFC 6749 §2.3.1 says) and the client authenticated by mTLS with its certificate: how a Go
// workload with a SPIFFE ID as client id talks to Parley's token server (e2e/tokens).
//
//	go-oauth2-client -token-url URL -ca CA -cert CERT -key KEY -client-id ID
//	                 [-audience A] [-scope S]...
//
// Prints one JSON line: {"access_token", "token_type", "expiry"}; exits 1 with the error.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func main() {
	tokenURL := flag.String("token-url", "", "token endpoint")
	caFile := flag.String("ca", "", "CA bundle (PEM)")
	certFile := flag.String("cert", "", "client certificate (PEM)")
	keyFile := flag.String("key", "", "client key (PEM)")
	clientID := flag.String("client-id", "", "client id (e.g. a SPIFFE ID)")
	audience := flag.String("audience", "", "audience parameter")
	scope := flag.String("scope", "", "space-separated scopes")
	flag.Parse()

	pool := x509.NewCertPool()
	caPem, err := os.ReadFile(*caFile)
	fail(err)
	pool.AppendCertsFromPEM(caPem)
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	fail(err)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
	}}}

	config := clientcredentials.Config{
		ClientID:  *clientID,
		TokenURL:  *tokenURL,
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	if *scope != "" {
		config.Scopes = strings.Split(*scope, " ")
	}
	if *audience != "" {
		config.EndpointParams = url.Values{"audience": {*audience}}
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	token, err := config.Token(ctx)
	fail(err)
	out, _ := json.Marshal(map[string]any{
		"access_token": token.AccessToken, "token_type": token.TokenType, "expiry": token.Expiry,
	})
	fmt.Println(string(out))
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
