package main

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// jwtsvid.ParseAndValidate (go-spiffe v2.9.0) validates exp/nbf/iat against
// time.Now() with go-jose's default one-minute leeway; there is no option to
// fix the validation time. Every jwt-svid verdict says so.
const (
	jwtClock  = "real"
	jwtLeeway = time.Minute
)

// verdict is one output line of `check`.
type verdict struct {
	ID          string `json:"id"`
	Unsupported bool   `json:"unsupported,omitempty"`
	Valid       *bool  `json:"valid,omitempty"`
	Result      any    `json:"result,omitempty"`
	Error       string `json:"error,omitempty"`
	// jwt-svid only: which clock go-spiffe validated the token against, and,
	// when the case gave "now", whether the time claims judge the same at
	// "now" and at the real clock.
	Clock       string `json:"clock,omitempty"`
	ClockAgrees *bool  `json:"clockAgrees,omitempty"`
}

type caseHead struct {
	ID   *string `json:"id"`
	Kind *string `json:"kind"`
}

type inputCase struct {
	Input *string `json:"input"`
}

type x509Case struct {
	Chain  *[]string `json:"chain"`
	Bundle *struct {
		TrustDomain *string   `json:"trustDomain"`
		Authorities *[]string `json:"authorities"`
	} `json:"bundle"`
	Now *string `json:"now"`
}

type jwtCase struct {
	Token  *string `json:"token"`
	Bundle *struct {
		TrustDomain *string `json:"trustDomain"`
		JSON        *string `json:"json"`
	} `json:"bundle"`
	Audience []string `json:"audience"`
	Now      *string  `json:"now"`
}

type bundleCase struct {
	TrustDomain *string `json:"trustDomain"`
	JSON        *string `json:"json"`
}

// runCheck reads JSON Lines cases and writes one verdict line per case. A
// line that is not a JSON object, or a case whose fields are missing or of
// the wrong JSON type, is a usage error (exit 2): the vector file is broken.
func runCheck(stdin io.Reader, stdout io.Writer) error {
	in := bufio.NewReaderSize(stdin, 1<<20)
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	for lineNo := 1; ; lineNo++ {
		line, readErr := in.ReadBytes('\n')
		if readErr != nil && readErr != io.EOF {
			return readErr
		}
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			v, err := checkLine(trimmed)
			if err != nil {
				return usagef("line %d: %v", lineNo, err)
			}
			if err := writeJSON(out, v); err != nil {
				return err
			}
			if err := out.Flush(); err != nil {
				return err
			}
		}
		if readErr == io.EOF {
			return nil
		}
	}
}

// checkLine decodes one case and judges it. The error is for broken cases
// only; judgements (including panics inside go-spiffe) go into the verdict.
func checkLine(line []byte) (verdict, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		return verdict{}, fmt.Errorf("malformed JSON case: %v", err)
	}
	var head caseHead
	if err := json.Unmarshal(line, &head); err != nil {
		return verdict{}, fmt.Errorf("bad case: %v", err)
	}
	if head.ID == nil {
		return verdict{}, errors.New(`case has no string "id"`)
	}
	if head.Kind == nil {
		return verdict{}, fmt.Errorf("case %q has no string \"kind\"", *head.ID)
	}
	id := *head.ID

	var judge func() (any, error)
	v := verdict{ID: id}
	switch *head.Kind {
	case "spiffe-id":
		var c inputCase
		if err := decodeCase(line, &c, id); err != nil {
			return verdict{}, err
		}
		if c.Input == nil {
			return verdict{}, missing(id, "input")
		}
		judge = func() (any, error) { return judgeSpiffeID(*c.Input) }
	case "trust-domain":
		var c inputCase
		if err := decodeCase(line, &c, id); err != nil {
			return verdict{}, err
		}
		if c.Input == nil {
			return verdict{}, missing(id, "input")
		}
		judge = func() (any, error) { return judgeTrustDomain(*c.Input) }
	case "x509-svid":
		var c x509Case
		if err := decodeCase(line, &c, id); err != nil {
			return verdict{}, err
		}
		switch {
		case c.Chain == nil:
			return verdict{}, missing(id, "chain")
		case c.Bundle == nil || c.Bundle.TrustDomain == nil:
			return verdict{}, missing(id, "bundle.trustDomain")
		case c.Bundle.Authorities == nil:
			return verdict{}, missing(id, "bundle.authorities")
		case c.Now == nil:
			return verdict{}, missing(id, "now")
		}
		now, err := time.Parse(time.RFC3339, *c.Now)
		if err != nil {
			return verdict{}, fmt.Errorf("case %q: bad \"now\": %v", id, err)
		}
		judge = func() (any, error) {
			return judgeX509SVID(*c.Chain, *c.Bundle.TrustDomain, *c.Bundle.Authorities, now)
		}
	case "jwt-svid":
		var c jwtCase
		if err := decodeCase(line, &c, id); err != nil {
			return verdict{}, err
		}
		switch {
		case c.Token == nil:
			return verdict{}, missing(id, "token")
		case c.Bundle == nil || c.Bundle.TrustDomain == nil:
			return verdict{}, missing(id, "bundle.trustDomain")
		case c.Bundle.JSON == nil:
			return verdict{}, missing(id, "bundle.json")
		}
		if c.Audience == nil {
			c.Audience = []string{}
		}
		v.Clock = jwtClock
		if c.Now != nil {
			now, err := time.Parse(time.RFC3339, *c.Now)
			if err != nil {
				return verdict{}, fmt.Errorf("case %q: bad \"now\": %v", id, err)
			}
			v.ClockAgrees = clockAgrees(*c.Token, now, time.Now())
		}
		judge = func() (any, error) {
			return judgeJWTSVID(*c.Token, *c.Bundle.TrustDomain, *c.Bundle.JSON, c.Audience)
		}
	case "bundle":
		var c bundleCase
		if err := decodeCase(line, &c, id); err != nil {
			return verdict{}, err
		}
		switch {
		case c.TrustDomain == nil:
			return verdict{}, missing(id, "trustDomain")
		case c.JSON == nil:
			return verdict{}, missing(id, "json")
		}
		judge = func() (any, error) { return judgeBundle(*c.TrustDomain, *c.JSON) }
	default:
		v.Unsupported = true
		return v, nil
	}

	result, err := safely(judge)
	valid := err == nil
	v.Valid = &valid
	if valid {
		v.Result = result
	} else {
		v.Error = err.Error()
	}
	return v, nil
}

func decodeCase(line []byte, dst any, id string) error {
	if err := json.Unmarshal(line, dst); err != nil {
		return fmt.Errorf("case %q: %v", id, err)
	}
	return nil
}

func missing(id, field string) error {
	return fmt.Errorf("case %q: missing field %q", id, field)
}

// safely runs f, turning a panic into an error carrying the panic text.
func safely(f func() (any, error)) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

type spiffeIDResult struct {
	TrustDomain string `json:"trustDomain"`
	Path        string `json:"path"`
}

func judgeSpiffeID(input string) (any, error) {
	id, err := spiffeid.FromString(input)
	if err != nil {
		return nil, err
	}
	return spiffeIDResult{TrustDomain: id.TrustDomain().Name(), Path: id.Path()}, nil
}

type trustDomainResult struct {
	Name string `json:"name"`
}

func judgeTrustDomain(input string) (any, error) {
	td, err := spiffeid.TrustDomainFromString(input)
	if err != nil {
		return nil, err
	}
	return trustDomainResult{Name: td.Name()}, nil
}

type x509Result struct {
	SpiffeID string `json:"spiffeId"`
}

func judgeX509SVID(chainB64 []string, tdName string, authoritiesB64 []string, now time.Time) (any, error) {
	td, err := spiffeid.TrustDomainFromString(tdName)
	if err != nil {
		return nil, fmt.Errorf("bundle trust domain: %w", err)
	}
	rawChain := make([][]byte, len(chainB64))
	for i, s := range chainB64 {
		if rawChain[i], err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, fmt.Errorf("chain[%d]: invalid base64: %w", i, err)
		}
	}
	authorities := make([]*x509.Certificate, len(authoritiesB64))
	for i, s := range authoritiesB64 {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("bundle.authorities[%d]: invalid base64: %w", i, err)
		}
		if authorities[i], err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("bundle.authorities[%d]: %w", i, err)
		}
	}
	bundle := x509bundle.FromX509Authorities(td, authorities)
	id, _, err := x509svid.ParseAndVerify(rawChain, bundle, x509svid.WithTime(now))
	if err != nil {
		return nil, err
	}
	return x509Result{SpiffeID: id.String()}, nil
}

type jwtResult struct {
	SpiffeID string   `json:"spiffeId"`
	Audience []string `json:"audience"`
	Expiry   string   `json:"expiry"`
}

func judgeJWTSVID(token, tdName, bundleJSON string, audience []string) (any, error) {
	td, err := spiffeid.TrustDomainFromString(tdName)
	if err != nil {
		return nil, fmt.Errorf("bundle trust domain: %w", err)
	}
	bundle, err := spiffebundle.Parse(td, []byte(bundleJSON))
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	svid, err := jwtsvid.ParseAndValidate(token, bundle.JWTBundle(), audience)
	if err != nil {
		return nil, err
	}
	aud := svid.Audience
	if aud == nil {
		aud = []string{}
	}
	return jwtResult{
		SpiffeID: svid.ID.String(),
		Audience: aud,
		Expiry:   svid.Expiry.UTC().Format(time.RFC3339),
	}, nil
}

type bundleResult struct {
	X509Authorities int      `json:"x509Authorities"`
	JWTAuthorities  []string `json:"jwtAuthorities"`
	SequenceNumber  *string  `json:"sequenceNumber"`
	RefreshHint     *int64   `json:"refreshHint"`
}

func judgeBundle(tdName, bundleJSON string) (any, error) {
	td, err := spiffeid.TrustDomainFromString(tdName)
	if err != nil {
		return nil, fmt.Errorf("trust domain: %w", err)
	}
	b, err := spiffebundle.Parse(td, []byte(bundleJSON))
	if err != nil {
		return nil, err
	}
	return describeBundle(b), nil
}

func describeBundle(b *spiffebundle.Bundle) bundleResult {
	r := bundleResult{
		X509Authorities: len(b.X509Authorities()),
		JWTAuthorities:  []string{},
	}
	for kid := range b.JWTAuthorities() {
		r.JWTAuthorities = append(r.JWTAuthorities, kid)
	}
	sort.Strings(r.JWTAuthorities)
	if seq, ok := b.SequenceNumber(); ok {
		s := strconv.FormatUint(seq, 10)
		r.SequenceNumber = &s
	}
	if hint, ok := b.RefreshHint(); ok {
		// go-spiffe stores seconds*time.Second in a time.Duration; this is
		// what it holds (it wraps for hints above ~292 years).
		secs := int64(hint / time.Second)
		r.RefreshHint = &secs
	}
	return r
}

// clockAgrees reports whether the token's exp/nbf/iat claims judge the same
// at `now` and at `real`, using go-jose's rules (one-minute leeway, numeric
// dates truncated to whole seconds, exact claim names). nil if the claims cannot be read
// (the token is then invalid whatever the clock).
func clockAgrees(token string, now, real time.Time) *bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	// go-jose's JSON decoder is case-sensitive and rejects duplicate keys;
	// a map of raw values reads the exact member names the same way.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil
	}
	var claims struct{ Exp, Nbf, Iat *float64 }
	for name, dst := range map[string]**float64{"exp": &claims.Exp, "nbf": &claims.Nbf, "iat": &claims.Iat} {
		if v, ok := raw[name]; ok && string(v) != "null" {
			var f float64
			if err := json.Unmarshal(v, &f); err != nil {
				return nil
			}
			*dst = &f
		}
	}
	at := func(f *float64) time.Time { return time.Unix(int64(*f), 0) }
	ok := func(t time.Time) bool {
		if claims.Nbf != nil && t.Add(jwtLeeway).Before(at(claims.Nbf)) {
			return false
		}
		if claims.Exp != nil && t.Add(-jwtLeeway).After(at(claims.Exp)) {
			return false
		}
		if claims.Iat != nil && t.Add(jwtLeeway).Before(at(claims.Iat)) {
			return false
		}
		return true
	}
	agrees := ok(now) == ok(real)
	return &agrees
}
