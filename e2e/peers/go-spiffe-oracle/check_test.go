package main

// These tests build X.509 chains, JWT-SVIDs and bundles with Go's crypto,
// run them through the same code as `check`, and compare with the verdicts
// go-spiffe v2.9.0 is expected to give (the behaviours listed in README.md).
// Set ORACLE_CASES_OUT=FILE to also write the cases as JSON Lines, e.g. to
// feed the built binary: go-spiffe-oracle check < FILE.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

type tcase struct {
	c      map[string]any
	expect bool   // expected "valid"
	want   string // substring of the error (invalid) or of the result JSON (valid)
}

var (
	b64    = base64.StdEncoding.EncodeToString
	b64url = base64.RawURLEncoding.EncodeToString
	serial = int64(1)
)

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func date(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }

func spiffeURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

type certKey struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func (c certKey) der() string { return b64(c.cert.Raw) }

// mkCert signs tmpl with parent (self-signed when parent is nil).
func mkCert(t *testing.T, tmpl *x509.Certificate, parent *certKey) certKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	if tmpl.Subject.CommonName == "" {
		tmpl.Subject = pkix.Name{CommonName: "cert " + big.NewInt(serial).String()}
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = date(2020), date(2040)
	}
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		// Some hostile certificates do not parse: keep the raw DER.
		cert = &x509.Certificate{Raw: der}
	}
	return certKey{cert, key}
}

func caTmpl(uri string) *x509.Certificate {
	return &x509.Certificate{
		BasicConstraintsValid: true, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:     []*url.URL{spiffeURL(uri)},
	}
}

func leafTmpl(uris ...string) *x509.Certificate {
	t := &x509.Certificate{
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		NotBefore:             date(2025), NotAfter: date(2035),
	}
	for _, u := range uris {
		t.URIs = append(t.URIs, rawURL(u))
	}
	return t
}

// rawURL builds a *url.URL whose String() is exactly s (for hostile SANs).
func rawURL(s string) *url.URL {
	scheme, opaque, _ := strings.Cut(s, ":")
	return &url.URL{Scheme: scheme, Opaque: opaque}
}

func x509CaseJSON(id string, chain []certKey, td string, anchors []certKey, now time.Time) map[string]any {
	var c, a []string
	for _, x := range chain {
		c = append(c, x.der())
	}
	for _, x := range anchors {
		a = append(a, x.der())
	}
	if c == nil {
		c = []string{}
	}
	if a == nil {
		a = []string{}
	}
	return map[string]any{"id": id, "kind": "x509-svid", "chain": c,
		"bundle": map[string]any{"trustDomain": td, "authorities": a}, "now": now.Format(time.RFC3339)}
}

// ---- JWT helpers ----

func ecJWK(pub *ecdsa.PublicKey) map[string]any {
	size := (pub.Curve.Params().BitSize + 7) / 8
	crv := map[int]string{256: "P-256", 384: "P-384", 521: "P-521"}[pub.Curve.Params().BitSize]
	return map[string]any{"kty": "EC", "crv": crv,
		"x": b64url(pub.X.FillBytes(make([]byte, size))), "y": b64url(pub.Y.FillBytes(make([]byte, size)))}
}

func rsaJWK(pub *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "n": b64url(pub.N.Bytes()), "e": b64url(big.NewInt(int64(pub.E)).Bytes())}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// sign makes a compact JWS; header and claims are raw JSON strings so that
// tests control key order, duplicates and types.
func sign(t *testing.T, header, claims string, key any, alg string) string {
	t.Helper()
	input := b64url([]byte(header)) + "." + b64url([]byte(claims))
	var sig []byte
	var err error
	switch alg {
	case "ES256", "ES384", "ES512":
		k := key.(*ecdsa.PrivateKey)
		h := map[string]crypto.Hash{"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512}[alg]
		hh := h.New()
		hh.Write([]byte(input))
		r, s, e := ecdsa.Sign(rand.Reader, k, hh.Sum(nil))
		if e != nil {
			t.Fatal(e)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		sig = append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...)
	case "ES256-DER":
		k := key.(*ecdsa.PrivateKey)
		d := sha256.Sum256([]byte(input))
		sig, err = ecdsa.SignASN1(rand.Reader, k, d[:])
	case "RS256":
		d := sha256.Sum256([]byte(input))
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, d[:])
	case "PS256":
		d := sha256.Sum256([]byte(input))
		sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, d[:], nil)
	case "HS256":
		m := hmac.New(sha256.New, key.([]byte))
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case "EdDSA":
		sig = ed25519.Sign(key.(ed25519.PrivateKey), []byte(input))
	case "none":
	default:
		t.Fatalf("alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64url(sig)
}

// weakRSAKey makes a 512-bit RSA key without crypto/rsa's size check.
func weakRSAKey(t *testing.T) *rsa.PrivateKey {
	one := big.NewInt(1)
	e := big.NewInt(65537)
	for {
		p, err := rand.Prime(rand.Reader, 256)
		if err != nil {
			t.Fatal(err)
		}
		q, err := rand.Prime(rand.Reader, 256)
		if err != nil {
			t.Fatal(err)
		}
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		d := new(big.Int).ModInverse(e, phi)
		n := new(big.Int).Mul(p, q)
		if d == nil || p.Cmp(q) == 0 || n.BitLen() != 512 {
			continue
		}
		return &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}, D: d, Primes: []*big.Int{p, q}}
	}
}

// signRS256Raw signs with textbook RSASSA-PKCS1-v1_5 (no key size check).
func signRS256Raw(header, claims string, k *rsa.PrivateKey) string {
	input := b64url([]byte(header)) + "." + b64url([]byte(claims))
	digest := sha256.Sum256([]byte(input))
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	size := (k.N.BitLen() + 7) / 8
	t := append(prefix, digest[:]...)
	em := make([]byte, size)
	em[1] = 1
	for i := 2; i < size-len(t)-1; i++ {
		em[i] = 0xff
	}
	copy(em[size-len(t):], t)
	sig := new(big.Int).Exp(new(big.Int).SetBytes(em), k.D, k.N)
	return input + "." + b64url(sig.FillBytes(make([]byte, size)))
}

func buildCases(t *testing.T) []tcase {
	var cases []tcase
	add := func(expect bool, want string, c map[string]any) {
		cases = append(cases, tcase{c, expect, want})
	}

	// ---- spiffe-id ----
	sid := func(id string, expect bool, want, input string) {
		add(expect, want, map[string]any{"id": id, "kind": "spiffe-id", "input": input})
	}
	sid("id-ok", true, `"path":"/foo/bar"`, "spiffe://example.org/foo/bar")
	sid("id-root", true, `"path":""`, "spiffe://example.org")
	sid("id-trailing-slash", false, "trailing slash", "spiffe://example.org/")
	sid("id-upper-td", false, "trust domain characters", "spiffe://Example.org/x")
	sid("id-upper-path", true, `"/Foo"`, "spiffe://example.org/Foo")
	sid("id-upper-scheme", false, "scheme", "SPIFFE://example.org/x")
	sid("id-percent", false, "path segment characters", "spiffe://example.org/a%20b")
	sid("id-port", false, "trust domain characters", "spiffe://example.org:443/x")
	sid("id-userinfo", false, "trust domain characters", "spiffe://u@example.org/x")
	sid("id-query", false, "path segment characters", "spiffe://example.org/x?a=b")
	sid("id-fragment", false, "path segment characters", "spiffe://example.org/x#f")
	sid("id-dot", false, "dot segments", "spiffe://example.org/a/./b")
	sid("id-dotdot", false, "dot segments", "spiffe://example.org/a/..")
	sid("id-dots3", true, `"/..."`, "spiffe://example.org/...")
	sid("id-empty-seg", false, "empty segments", "spiffe://example.org/a//b")
	sid("id-no-td", false, "trust domain is missing", "spiffe:///x")
	sid("id-empty", false, "cannot be empty", "")
	sid("id-td-300", true, "", "spiffe://"+strings.Repeat("a", 300)+"/x")
	sid("id-4096", true, "", "spiffe://example.org/"+strings.Repeat("p", 4096))
	sid("id-td-dotdot", true, `"a..b"`, "spiffe://a..b/x")
	sid("id-td-trailing-dot", true, `"td."`, "spiffe://td./x")
	sid("id-td-leading-dot", true, `".td"`, "spiffe://.td/x")
	sid("id-td-dotonly", true, `"."`, "spiffe://./x")
	sid("id-td-underscore", true, "", "spiffe://my_td/x")
	sid("id-td-ipv6", false, "trust domain characters", "spiffe://[::1]/x")
	sid("id-path-tilde", false, "path segment characters", "spiffe://example.org/~x")
	sid("id-non-ascii", false, "path segment characters", "spiffe://example.org/é")
	sid("id-space", false, "path segment characters", "spiffe://example.org/a b")

	// ---- trust-domain ----
	tdc := func(id string, expect bool, want, input string) {
		add(expect, want, map[string]any{"id": id, "kind": "trust-domain", "input": input})
	}
	tdc("td-ok", true, `{"name":"example.org"}`, "example.org")
	tdc("td-from-id", true, `{"name":"example.org"}`, "spiffe://example.org")
	tdc("td-from-id-with-path", true, `{"name":"example.org"}`, "spiffe://example.org/some/path")
	tdc("td-from-id-trailing-slash", false, "trailing slash", "spiffe://example.org/")
	tdc("td-upper", false, "trust domain characters", "Example.org")
	tdc("td-empty", false, "trust domain is missing", "")
	tdc("td-bad-scheme", false, "scheme", "spiffe:/example.org")
	tdc("td-http", false, "scheme", "https://example.org")
	tdc("td-long", true, "", strings.Repeat("a", 1000))
	tdc("td-ip", true, "", "127.0.0.1")

	// ---- x509-svid ----
	now := date(2030)
	root := mkCert(t, caTmpl("spiffe://example.org"), nil)
	inter := mkCert(t, caTmpl("spiffe://example.org"), &root)
	leaf := mkCert(t, leafTmpl("spiffe://example.org/workload"), &inter)
	direct := mkCert(t, leafTmpl("spiffe://example.org/direct"), &root)
	x := func(id string, expect bool, want string, chain []certKey, td string, anchors []certKey, at time.Time) {
		add(expect, want, x509CaseJSON(id, chain, td, anchors, at))
	}
	x("x509-ok", true, `"spiffe://example.org/workload"`, []certKey{leaf, inter}, "example.org", []certKey{root}, now)
	x("x509-direct", true, `"spiffe://example.org/direct"`, []certKey{direct}, "example.org", []certKey{root}, now)
	x("x509-missing-intermediate", false, "unknown authority", []certKey{leaf}, "example.org", []certKey{root}, now)
	x("x509-intermediate-as-anchor", true, "", []certKey{leaf}, "example.org", []certKey{inter}, now)
	x("x509-extra-unrelated-cert", true, "", []certKey{leaf, direct, inter}, "example.org", []certKey{root}, now)
	x("x509-expired", false, "expired", []certKey{leaf, inter}, "example.org", []certKey{root}, date(2036))
	x("x509-not-yet", false, "expired or is not yet valid", []certKey{leaf, inter}, "example.org", []certKey{root}, date(2024))
	x("x509-empty-chain", false, "empty certificates chain", nil, "example.org", []certKey{root}, now)
	x("x509-no-anchors", false, "unknown authority", []certKey{leaf, inter}, "example.org", nil, now)
	x("x509-wrong-td-bundle", false, "could not get X509 bundle", []certKey{leaf, inter}, "other.org", []certKey{root}, now)

	expiredRootT := caTmpl("spiffe://example.org")
	expiredRootT.NotBefore, expiredRootT.NotAfter = date(2020), date(2029)
	expiredRoot := mkCert(t, expiredRootT, nil)
	x("x509-root-expired", false, "expired", []certKey{mkCert(t, leafTmpl("spiffe://example.org/w"), &expiredRoot)}, "example.org", []certKey{expiredRoot}, now)

	caLeafT := leafTmpl("spiffe://example.org/w")
	caLeafT.IsCA, caLeafT.KeyUsage = true, x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign
	x("x509-leaf-ca", false, "CA flag", []certKey{mkCert(t, caLeafT, &root)}, "example.org", []certKey{root}, now)
	csLeafT := leafTmpl("spiffe://example.org/w")
	csLeafT.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign
	x("x509-leaf-certsign", false, "KeyCertSign", []certKey{mkCert(t, csLeafT, &root)}, "example.org", []certKey{root}, now)
	crlLeafT := leafTmpl("spiffe://example.org/w")
	crlLeafT.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign
	x("x509-leaf-crlsign", false, "KeyCrlSign", []certKey{mkCert(t, crlLeafT, &root)}, "example.org", []certKey{root}, now)
	noDSLeafT := leafTmpl("spiffe://example.org/w")
	noDSLeafT.KeyUsage = x509.KeyUsageKeyEncipherment
	x("x509-leaf-no-digitalsignature", true, "", []certKey{mkCert(t, noDSLeafT, &root)}, "example.org", []certKey{root}, now)
	noKULeafT := leafTmpl("spiffe://example.org/w")
	noKULeafT.KeyUsage = 0
	x("x509-leaf-no-keyusage", true, "", []certKey{mkCert(t, noKULeafT, &root)}, "example.org", []certKey{root}, now)
	ekuLeafT := leafTmpl("spiffe://example.org/w")
	ekuLeafT.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	x("x509-leaf-eku-codesigning", true, "", []certKey{mkCert(t, ekuLeafT, &root)}, "example.org", []certKey{root}, now)
	x("x509-leaf-root-id", true, `"spiffe://example.org"`, []certKey{mkCert(t, leafTmpl("spiffe://example.org"), &root)}, "example.org", []certKey{root}, now)
	x("x509-leaf-two-uris", false, "more than one URI SAN", []certKey{mkCert(t, leafTmpl("spiffe://example.org/a", "spiffe://example.org/b"), &root)}, "example.org", []certKey{root}, now)
	x("x509-leaf-spiffe-and-https-uri", false, "more than one URI SAN", []certKey{mkCert(t, leafTmpl("spiffe://example.org/a", "https://example.org/b"), &root)}, "example.org", []certKey{root}, now)
	x("x509-leaf-no-uri", false, "no URI SAN", []certKey{mkCert(t, leafTmpl(), &root)}, "example.org", []certKey{root}, now)
	x("x509-leaf-other-td", false, "could not get X509 bundle", []certKey{mkCert(t, leafTmpl("spiffe://other.org/w"), &root)}, "example.org", []certKey{root}, now)
	x("x509-leaf-upper-scheme", true, `"spiffe://example.org/w"`, []certKey{mkCert(t, leafTmpl("SPIFFE://example.org/w"), &root)}, "example.org", []certKey{root}, now)
	x("x509-leaf-upper-td", false, "trust domain characters", []certKey{mkCert(t, leafTmpl("spiffe://EXAMPLE.org/w"), &root)}, "example.org", []certKey{root}, now)
	x("x509-leaf-empty-fragment", true, `"spiffe://example.org/w"`, []certKey{mkCert(t, leafTmpl("spiffe://example.org/w#"), &root)}, "example.org", []certKey{root}, now)
	x("x509-leaf-empty-query", false, "path segment characters", []certKey{mkCert(t, leafTmpl("spiffe://example.org/w?"), &root)}, "example.org", []certKey{root}, now)
	x("x509-leaf-percent", false, "path segment characters", []certKey{mkCert(t, leafTmpl("spiffe://example.org/a%41"), &root)}, "example.org", []certKey{root}, now)
	x("x509-leaf-trailing-dot-td", false, "invalid domain", []certKey{mkCert(t, leafTmpl("spiffe://example.org./w"), &root)}, "example.org.", []certKey{root}, now)
	x("x509-leaf-dotdot-td", false, "invalid domain", []certKey{mkCert(t, leafTmpl("spiffe://a..b/w"), &root)}, "a..b", []certKey{root}, now)
	longTD := strings.Repeat("a", 70) + "." + strings.Repeat("b", 250)
	longRoot := mkCert(t, caTmpl("spiffe://"+longTD), nil)
	x("x509-leaf-long-td-label", true, "", []certKey{mkCert(t, leafTmpl("spiffe://"+longTD+"/w"), &longRoot)}, longTD, []certKey{longRoot}, now)

	sha1LeafT := leafTmpl("spiffe://example.org/w")
	sha1LeafT.SignatureAlgorithm = x509.ECDSAWithSHA1
	x("x509-leaf-sha1-signature", false, "insecure algorithm", []certKey{mkCert(t, sha1LeafT, &root)}, "example.org", []certKey{root}, now)
	x("x509-leaf-3000-byte-id", true, "", []certKey{mkCert(t, leafTmpl("spiffe://example.org/"+strings.Repeat("p", 3000)), &root)}, "example.org", []certKey{root}, now)
	critLeafT := leafTmpl("spiffe://example.org/w")
	critLeafT.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4, 5}, Critical: true, Value: []byte{5, 0}}}
	x("x509-leaf-unknown-critical-ext", false, "unhandled critical extension", []certKey{mkCert(t, critLeafT, &root)}, "example.org", []certKey{root}, now)

	notCAInterT := caTmpl("spiffe://example.org")
	notCAInterT.IsCA = false
	notCAInter := mkCert(t, notCAInterT, &root)
	x("x509-intermediate-not-ca", false, "parent certificate cannot sign", []certKey{mkCert(t, leafTmpl("spiffe://example.org/w"), &notCAInter), notCAInter}, "example.org", []certKey{root}, now)
	noCSInterT := caTmpl("spiffe://example.org")
	noCSInterT.KeyUsage = x509.KeyUsageDigitalSignature
	noCSInter := mkCert(t, noCSInterT, &root)
	x("x509-intermediate-no-certsign", false, "parent certificate cannot sign", []certKey{mkCert(t, leafTmpl("spiffe://example.org/w"), &noCSInter), noCSInter}, "example.org", []certKey{root}, now)
	noURIInterT := caTmpl("spiffe://example.org")
	noURIInterT.URIs = nil
	noURIInter := mkCert(t, noURIInterT, &root)
	x("x509-intermediate-no-uri", true, "", []certKey{mkCert(t, leafTmpl("spiffe://example.org/w"), &noURIInter), noURIInter}, "example.org", []certKey{root}, now)
	otherTDInter := mkCert(t, caTmpl("spiffe://other.org"), &root)
	x("x509-intermediate-other-td-uri", true, "", []certKey{mkCert(t, leafTmpl("spiffe://example.org/w"), &otherTDInter), otherTDInter}, "example.org", []certKey{root}, now)

	noKUInterT := caTmpl("spiffe://example.org")
	noKUInterT.KeyUsage = 0
	noKUInter := mkCert(t, noKUInterT, &root)
	x("x509-intermediate-no-keyusage-ext", true, "", []certKey{mkCert(t, leafTmpl("spiffe://example.org/w"), &noKUInter), noKUInter}, "example.org", []certKey{root}, now)
	notCART := caTmpl("spiffe://example.org")
	notCART.IsCA, notCART.KeyUsage = false, x509.KeyUsageDigitalSignature
	notCARoot := mkCert(t, notCART, nil)
	x("x509-anchor-not-ca", false, "parent certificate cannot sign", []certKey{mkCert(t, leafTmpl("spiffe://example.org/w"), &notCARoot)}, "example.org", []certKey{notCARoot}, now)

	pl0T := caTmpl("spiffe://example.org")
	pl0T.MaxPathLen, pl0T.MaxPathLenZero = 0, true
	pl0Root := mkCert(t, pl0T, nil)
	pl0Inter := mkCert(t, caTmpl("spiffe://example.org"), &pl0Root)
	x("x509-pathlen-exceeded", false, "too many intermediates", []certKey{mkCert(t, leafTmpl("spiffe://example.org/w"), &pl0Inter), pl0Inter}, "example.org", []certKey{pl0Root}, now)

	ncInterT := caTmpl("spiffe://example.org")
	ncInterT.PermittedURIDomains = []string{"other.org"}
	ncInter := mkCert(t, ncInterT, &root)
	x("x509-name-constraint-violation", false, "not permitted", []certKey{mkCert(t, leafTmpl("spiffe://example.org/w"), &ncInter), ncInter}, "example.org", []certKey{root}, now)
	ncOkT := caTmpl("spiffe://example.org")
	ncOkT.PermittedURIDomains = []string{"example.org"}
	ncOk := mkCert(t, ncOkT, &root)
	x("x509-name-constraint-ok", true, "", []certKey{mkCert(t, leafTmpl("spiffe://example.org/w"), &ncOk), ncOk}, "example.org", []certKey{root}, now)

	bad := x509CaseJSON("x509-bad-base64", nil, "example.org", []certKey{root}, now)
	bad["chain"] = []string{"not base64!"}
	add(false, "invalid base64", bad)
	bad = x509CaseJSON("x509-bad-der", nil, "example.org", []certKey{root}, now)
	bad["chain"] = []string{b64([]byte("hello"))}
	add(false, "unable to parse certificate", bad)
	bad = x509CaseJSON("x509-bad-anchor", []certKey{leaf, inter}, "example.org", nil, now)
	bad["bundle"] = map[string]any{"trustDomain": "example.org", "authorities": []string{b64([]byte{0x30, 0x00})}}
	add(false, "bundle.authorities[0]", bad)
	bad = x509CaseJSON("x509-bad-bundle-td", []certKey{leaf, inter}, "Example.org", []certKey{root}, now)
	add(false, "bundle trust domain", bad)

	// ---- jwt-svid ----
	realNow := time.Now()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hsKey := []byte("0123456789abcdef0123456789abcdef")
	keys := []any{
		with(ecJWK(&ecKey.PublicKey), "use", "jwt-svid", "kid", "ec"),
		with(ecJWK(&ec384.PublicKey), "use", "jwt-svid", "kid", "ec384"),
		with(rsaJWK(&rsaKey.PublicKey), "use", "jwt-svid", "kid", "rsa"),
		map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64url(edPub), "use": "jwt-svid", "kid": "ed"},
		map[string]any{"kty": "oct", "k": b64url(hsKey), "use": "jwt-svid", "kid": "hs"},
		with(ecJWK(&other.PublicKey), "kid", "nouse"),
		with(ecJWK(&other.PublicKey), "use", "sig", "kid", "sig"),
	}
	bundleJSON := mustJSON(map[string]any{"keys": keys})
	exp := realNow.Add(time.Hour).Unix()
	claims := func(extra string) string {
		return `{"sub":"spiffe://example.org/workload","aud":["spiffe://example.org/svc"],"exp":` + big.NewInt(exp).String() + extra + `}`
	}
	aud := []string{"spiffe://example.org/svc"}
	j := func(id string, expect bool, want, token, bundle string, audience []string) {
		add(expect, want, map[string]any{"id": id, "kind": "jwt-svid", "token": token,
			"bundle":   map[string]any{"trustDomain": "example.org", "json": bundle},
			"audience": audience, "now": realNow.UTC().Format(time.RFC3339)})
	}
	hdr := func(alg, kid string, extra string) string {
		h := `{"alg":"` + alg + `"`
		if kid != "" {
			h += `,"kid":"` + kid + `"`
		}
		return h + extra + `}`
	}
	j("jwt-es256", true, `"spiffeId":"spiffe://example.org/workload"`, sign(t, hdr("ES256", "ec", ""), claims(""), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-es384", true, "", sign(t, hdr("ES384", "ec384", ""), claims(""), ec384, "ES384"), bundleJSON, aud)
	j("jwt-rs256", true, "", sign(t, hdr("RS256", "rsa", ""), claims(""), rsaKey, "RS256"), bundleJSON, aud)
	j("jwt-ps256", true, "", sign(t, hdr("PS256", "rsa", ""), claims(""), rsaKey, "PS256"), bundleJSON, aud)
	j("jwt-alg-curve-mismatch", false, "error in cryptographic primitive", sign(t, hdr("ES384", "ec", ""), claims(""), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-rs256-key-labelled-ps256", false, "unable to get claims", sign(t, hdr("PS256", "rsa", ""), claims(""), rsaKey, "RS256"), bundleJSON, aud)
	j("jwt-hs256", false, "unable to parse JWT token", sign(t, hdr("HS256", "hs", ""), claims(""), hsKey, "HS256"), bundleJSON, aud)
	j("jwt-eddsa", false, "unable to parse JWT token", sign(t, hdr("EdDSA", "ed", ""), claims(""), edKey, "EdDSA"), bundleJSON, aud)
	j("jwt-alg-none", false, "unable to parse JWT token", sign(t, hdr("none", "ec", ""), claims(""), nil, "none"), bundleJSON, aud)
	j("jwt-es256-der-signature", false, "unable to get claims", sign(t, hdr("ES256", "ec", ""), claims(""), ecKey, "ES256-DER"), bundleJSON, aud)
	j("jwt-no-kid", false, "missing key id", sign(t, hdr("ES256", "", ""), claims(""), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-unknown-kid", false, "no JWT authority", sign(t, hdr("ES256", "zzz", ""), claims(""), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-kid-of-key-without-use", false, "no JWT authority", sign(t, hdr("ES256", "nouse", ""), claims(""), other, "ES256"), bundleJSON, aud)
	j("jwt-kid-of-key-use-sig", false, "no JWT authority", sign(t, hdr("ES256", "sig", ""), claims(""), other, "ES256"), bundleJSON, aud)
	j("jwt-wrong-key", false, "unable to get claims", sign(t, hdr("ES256", "ec", ""), claims(""), other, "ES256"), bundleJSON, aud)
	j("jwt-typ-JWT", true, "", sign(t, hdr("ES256", "ec", `,"typ":"JWT"`), claims(""), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-typ-JOSE", true, "", sign(t, hdr("ES256", "ec", `,"typ":"JOSE"`), claims(""), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-typ-lower", false, "header type", sign(t, hdr("ES256", "ec", `,"typ":"jwt"`), claims(""), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-typ-at+jwt", false, "header type", sign(t, hdr("ES256", "ec", `,"typ":"at+jwt"`), claims(""), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-typ-number", false, "header type", sign(t, hdr("ES256", "ec", `,"typ":1`), claims(""), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-typ-null", true, "", sign(t, hdr("ES256", "ec", `,"typ":null`), claims(""), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-extra-header", true, "", sign(t, hdr("ES256", "ec", `,"foo":"bar","cty":"x"`), claims(""), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-crit-unknown", false, "unable to get claims", sign(t, hdr("ES256", "ec", `,"crit":["foo"],"foo":1`), claims(""), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-dup-alg-header", false, "", sign(t, `{"alg":"ES256","kid":"ec","alg":"HS256"}`, claims(""), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-dup-kid-header", false, "unable to parse JWT token", sign(t, `{"alg":"ES256","kid":"zzz","kid":"ec"}`, claims(""), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-header-KID-uppercase", false, "missing key id", sign(t, `{"alg":"ES256","KID":"ec"}`, claims(""), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-expired-2min", false, "token has expired", sign(t, hdr("ES256", "ec", ""), `{"sub":"spiffe://example.org/workload","aud":"spiffe://example.org/svc","exp":`+big.NewInt(realNow.Add(-2*time.Minute).Unix()).String()+`}`, ecKey, "ES256"), bundleJSON, aud)
	j("jwt-expired-30s-leeway", true, "", sign(t, hdr("ES256", "ec", ""), `{"sub":"spiffe://example.org/workload","aud":"spiffe://example.org/svc","exp":`+big.NewInt(realNow.Add(-30*time.Second).Unix()).String()+`}`, ecKey, "ES256"), bundleJSON, aud)
	j("jwt-nbf-30s-future", true, "", sign(t, hdr("ES256", "ec", ""), claims(`,"nbf":`+big.NewInt(realNow.Add(30*time.Second).Unix()).String()), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-nbf-5min-future", false, "not valid yet", sign(t, hdr("ES256", "ec", ""), claims(`,"nbf":`+big.NewInt(realNow.Add(5*time.Minute).Unix()).String()), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-iat-5min-future", false, "issued in the future", sign(t, hdr("ES256", "ec", ""), claims(`,"iat":`+big.NewInt(realNow.Add(5*time.Minute).Unix()).String()), ecKey, "ES256"), bundleJSON, aud)
	j("jwt-no-exp", false, "missing exp", sign(t, hdr("ES256", "ec", ""), `{"sub":"spiffe://example.org/workload","aud":"spiffe://example.org/svc"}`, ecKey, "ES256"), bundleJSON, aud)
	j("jwt-exp-string", false, "unable to get claims", sign(t, hdr("ES256", "ec", ""), `{"sub":"spiffe://example.org/workload","aud":"x","exp":"`+big.NewInt(exp).String()+`"}`, ecKey, "ES256"), bundleJSON, aud)
	j("jwt-exp-fraction", true, "", sign(t, hdr("ES256", "ec", ""), `{"sub":"spiffe://example.org/workload","aud":"spiffe://example.org/svc","exp":`+big.NewInt(exp).String()+`.75}`, ecKey, "ES256"), bundleJSON, aud)
	j("jwt-EXP-uppercase-claim", false, "missing exp", sign(t, hdr("ES256", "ec", ""), `{"sub":"spiffe://example.org/workload","aud":"spiffe://example.org/svc","EXP":`+big.NewInt(exp).String()+`}`, ecKey, "ES256"), bundleJSON, aud)
	j("jwt-Sub-mixedcase-claim", false, "missing subject", sign(t, hdr("ES256", "ec", ""), `{"Sub":"spiffe://example.org/workload","aud":"spiffe://example.org/svc","exp":`+big.NewInt(exp).String()+`}`, ecKey, "ES256"), bundleJSON, aud)
	j("jwt-dup-sub", false, "duplicate key", sign(t, hdr("ES256", "ec", ""), `{"sub":"spiffe://example.org/first","sub":"spiffe://example.org/second","aud":"spiffe://example.org/svc","exp":`+big.NewInt(exp).String()+`}`, ecKey, "ES256"), bundleJSON, aud)
	j("jwt-no-sub", false, "missing subject", sign(t, hdr("ES256", "ec", ""), `{"aud":"x","exp":`+big.NewInt(exp).String()+`}`, ecKey, "ES256"), bundleJSON, aud)
	j("jwt-sub-not-spiffe", false, "invalid subject", sign(t, hdr("ES256", "ec", ""), `{"sub":"workload","aud":"x","exp":`+big.NewInt(exp).String()+`}`, ecKey, "ES256"), bundleJSON, aud)
	j("jwt-sub-other-td", false, "no bundle found", sign(t, hdr("ES256", "ec", ""), `{"sub":"spiffe://other.org/w","aud":"x","exp":`+big.NewInt(exp).String()+`}`, ecKey, "ES256"), bundleJSON, aud)
	j("jwt-sub-root-id", true, `"spiffeId":"spiffe://example.org"`, sign(t, hdr("ES256", "ec", ""), `{"sub":"spiffe://example.org","aud":"spiffe://example.org/svc","exp":`+big.NewInt(exp).String()+`}`, ecKey, "ES256"), bundleJSON, aud)
	j("jwt-aud-mismatch", false, "expected audience", sign(t, hdr("ES256", "ec", ""), claims(""), ecKey, "ES256"), bundleJSON, []string{"other"})
	j("jwt-aud-any-of", true, "", sign(t, hdr("ES256", "ec", ""), claims(""), ecKey, "ES256"), bundleJSON, []string{"other", "spiffe://example.org/svc"})
	j("jwt-aud-string", true, `"audience":["spiffe://example.org/svc"]`, sign(t, hdr("ES256", "ec", ""), `{"sub":"spiffe://example.org/workload","aud":"spiffe://example.org/svc","exp":`+big.NewInt(exp).String()+`}`, ecKey, "ES256"), bundleJSON, aud)
	j("jwt-no-aud-expected-aud", false, "expected audience", sign(t, hdr("ES256", "ec", ""), `{"sub":"spiffe://example.org/workload","exp":`+big.NewInt(exp).String()+`}`, ecKey, "ES256"), bundleJSON, aud)
	j("jwt-no-aud-empty-expected", true, `"audience":[]`, sign(t, hdr("ES256", "ec", ""), `{"sub":"spiffe://example.org/workload","exp":`+big.NewInt(exp).String()+`}`, ecKey, "ES256"), bundleJSON, []string{})
	j("jwt-aud-mismatch-empty-expected", true, "", sign(t, hdr("ES256", "ec", ""), claims(""), ecKey, "ES256"), bundleJSON, []string{})
	j("jwt-aud-non-string", false, "unable to get claims", sign(t, hdr("ES256", "ec", ""), `{"sub":"spiffe://example.org/workload","aud":[1],"exp":`+big.NewInt(exp).String()+`}`, ecKey, "ES256"), bundleJSON, aud)
	good := sign(t, hdr("ES256", "ec", ""), claims(""), ecKey, "ES256")
	// 64-byte ES256 signature = 86 base64url chars with 4 unused low bits in
	// the last one; Go's decoder (not Strict) ignores them.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, good[len(good)-1])
	j("jwt-sig-noncanonical-base64", true, "", good[:len(good)-1]+string(alphabet[last^0x0f]), bundleJSON, aud)
	j("jwt-padded-base64", false, "unable to parse JWT token", strings.Replace(good, ".", "=.", 1), bundleJSON, aud)
	j("jwt-trailing-space", false, "unable to parse JWT token", good+" ", bundleJSON, aud)
	j("jwt-two-parts", false, "unable to parse JWT token", good[:strings.LastIndex(good, ".")], bundleJSON, aud)
	j("jwt-json-serialization", false, "unable to parse JWT token", `{"payload":"e30","protected":"e30","signature":""}`, bundleJSON, aud)
	j("jwt-not-a-token", false, "unable to parse JWT token", "garbage", bundleJSON, aud)
	// RSA keys under 1024 bits: crypto/rsa refuses to make or use them, so
	// the key and the RS256 signature are computed by hand.
	weakRSA := weakRSAKey(t)
	weakBundle := mustJSON(map[string]any{"keys": []any{with(rsaJWK(&weakRSA.PublicKey), "use", "jwt-svid", "kid", "weak")}})
	j("jwt-rs256-raw-signer-control", true, "", signRS256Raw(hdr("RS256", "rsa", ""), claims(""), rsaKey), bundleJSON, aud)
	j("jwt-rs256-512-bit-key", false, "unable to get claims", signRS256Raw(hdr("RS256", "weak", ""), claims(""), weakRSA), weakBundle, aud)
	add(true, `"jwtAuthorities":["weak"]`, map[string]any{"id": "bundle-rsa-512-bit-key", "kind": "bundle", "trustDomain": "example.org", "json": weakBundle})
	dupKidBundle := mustJSON(map[string]any{"keys": []any{
		with(ecJWK(&ecKey.PublicKey), "use", "jwt-svid", "kid", "k"),
		with(ecJWK(&other.PublicKey), "use", "jwt-svid", "kid", "k"),
	}})
	j("jwt-dup-kid-bundle-first-key", false, "unable to get claims", sign(t, hdr("ES256", "k", ""), claims(""), ecKey, "ES256"), dupKidBundle, aud)
	j("jwt-dup-kid-bundle-last-key", true, "", sign(t, hdr("ES256", "k", ""), claims(""), other, "ES256"), dupKidBundle, aud)
	j("jwt-bad-bundle", false, "bundle:", good, `{"keys":[{"kty":"EC","use":"jwt-svid"}]}`, aud)
	expiredBy := sign(t, hdr("ES256", "ec", ""), `{"sub":"spiffe://example.org/w","aud":"spiffe://example.org/svc","exp":`+big.NewInt(realNow.Add(-10*time.Minute).Unix()).String()+`}`, ecKey, "ES256")
	add(false, `"clockAgrees":false`, map[string]any{"id": "jwt-clock-disagrees", "kind": "jwt-svid", "token": expiredBy,
		"bundle": map[string]any{"trustDomain": "example.org", "json": bundleJSON}, "audience": aud, "now": realNow.Add(-time.Hour).UTC().Format(time.RFC3339)})

	// ---- bundle ----
	bc := func(id string, expect bool, want, js string) {
		add(expect, want, map[string]any{"id": id, "kind": "bundle", "trustDomain": "example.org", "json": js})
	}
	rootJWK := with(ecJWK(&root.key.PublicKey), "use", "x509-svid", "x5c", []string{root.der()})
	full := mustJSON(map[string]any{"spiffe_sequence": 42, "spiffe_refresh_hint": 300, "keys": []any{
		rootJWK,
		with(ecJWK(&ecKey.PublicKey), "use", "jwt-svid", "kid", "b"),
		with(rsaJWK(&rsaKey.PublicKey), "use", "jwt-svid", "kid", "a"),
	}})
	bc("bundle-full", true, `{"x509Authorities":1,"jwtAuthorities":["a","b"],"sequenceNumber":"42","refreshHint":300}`, full)
	bc("bundle-minimal", true, `{"x509Authorities":0,"jwtAuthorities":[],"sequenceNumber":null,"refreshHint":null}`, `{"keys":[]}`)
	bc("bundle-no-keys", false, "no authorities found", `{}`)
	bc("bundle-keys-null", false, "no authorities found", `{"keys":null}`)
	bc("bundle-KEYS-uppercase", true, `"x509Authorities":1`, `{"KEYS":[`+mustJSON(rootJWK)+`]}`)
	bc("bundle-seq-max", true, `"sequenceNumber":"18446744073709551615"`, `{"keys":[],"spiffe_sequence":18446744073709551615}`)
	bc("bundle-seq-overflow", false, "unable to parse JWKS", `{"keys":[],"spiffe_sequence":18446744073709551616}`)
	bc("bundle-seq-negative", false, "unable to parse JWKS", `{"keys":[],"spiffe_sequence":-1}`)
	bc("bundle-seq-float", false, "unable to parse JWKS", `{"keys":[],"spiffe_sequence":1.0}`)
	bc("bundle-seq-exponent", false, "unable to parse JWKS", `{"keys":[],"spiffe_sequence":1e3}`)
	bc("bundle-seq-string", false, "unable to parse JWKS", `{"keys":[],"spiffe_sequence":"1"}`)
	bc("bundle-seq-null", true, `"sequenceNumber":null`, `{"keys":[],"spiffe_sequence":null}`)
	bc("bundle-refresh-negative", true, `"refreshHint":-5`, `{"keys":[],"spiffe_refresh_hint":-5}`)
	bc("bundle-refresh-zero", true, `"refreshHint":0`, `{"keys":[],"spiffe_refresh_hint":0}`)
	bc("bundle-refresh-float", false, "unable to parse JWKS", `{"keys":[],"spiffe_refresh_hint":1.5}`)
	bc("bundle-refresh-huge-wraps", true, `"refreshHint":`, `{"keys":[],"spiffe_refresh_hint":9223372036854775807}`)
	bc("bundle-dup-fields-last-wins", true, `"sequenceNumber":"2"`, `{"keys":[],"spiffe_sequence":1,"spiffe_sequence":2}`)
	bc("bundle-not-object", false, "unable to parse JWKS", `[]`)
	bc("bundle-trailing-garbage", false, "unable to parse JWKS", `{"keys":[]} x`)
	bc("bundle-unknown-use-ignored", true, `"jwtAuthorities":[]`, mustJSON(map[string]any{"keys": []any{with(ecJWK(&ecKey.PublicKey), "use", "foo", "kid", "x")}}))
	bc("bundle-no-use-ignored", true, `"jwtAuthorities":[]`, mustJSON(map[string]any{"keys": []any{with(ecJWK(&ecKey.PublicKey), "kid", "x")}}))
	bc("bundle-use-case-sensitive", true, `"jwtAuthorities":[]`, mustJSON(map[string]any{"keys": []any{with(ecJWK(&ecKey.PublicKey), "use", "JWT-SVID", "kid", "x")}}))
	bc("bundle-unknown-kty-with-unknown-use", false, "unsupported key type", `{"keys":[{"kty":"foo","use":"foo"}]}`)
	bc("bundle-okp-x25519-unknown-use", false, "unsupported key type", `{"keys":[{"kty":"OKP","crv":"X25519","x":"`+b64url(make([]byte, 32))+`","use":"foo"}]}`)
	bc("bundle-missing-kty", false, "missing json web key type", `{"keys":[{"use":"foo"}]}`)
	bc("bundle-ec-not-on-curve", false, "not on declared curve", mustJSON(map[string]any{"keys": []any{with(ecJWK(&ecKey.PublicKey), "use", "jwt-svid", "kid", "x", "y", b64url(make([]byte, 32)))}}))
	bc("bundle-jwt-no-kid", false, "keyID cannot be empty", mustJSON(map[string]any{"keys": []any{with(ecJWK(&ecKey.PublicKey), "use", "jwt-svid")}}))
	bc("bundle-jwt-dup-kid", true, `"jwtAuthorities":["k"]`, dupKidBundle)
	bc("bundle-jwt-oct-key", true, `"jwtAuthorities":["hs"]`, `{"keys":[{"kty":"oct","k":"`+b64url(hsKey)+`","use":"jwt-svid","kid":"hs"}]}`)
	bc("bundle-jwt-ed25519-key", true, `"jwtAuthorities":["ed"]`, mustJSON(map[string]any{"keys": []any{keys[3]}}))
	bc("bundle-jwt-with-x5c", true, `"x509Authorities":0,"jwtAuthorities":["j"]`, mustJSON(map[string]any{"keys": []any{with(rootJWK, "use", "jwt-svid", "kid", "j")}}))
	bc("bundle-x509-two-certs", false, "expected a single certificate", mustJSON(map[string]any{"keys": []any{with(rootJWK, "x5c", []string{root.der(), inter.der()})}}))
	bc("bundle-x509-no-x5c", false, "expected a single certificate", mustJSON(map[string]any{"keys": []any{with(rootJWK, "x5c", nil)}}))
	bc("bundle-x509-key-mismatch", false, "do not match", mustJSON(map[string]any{"keys": []any{with(ecJWK(&ecKey.PublicKey), "use", "x509-svid", "x5c", []string{root.der()})}}))
	bc("bundle-x509-no-key-params", false, "missing x/y", mustJSON(map[string]any{"keys": []any{map[string]any{"kty": "EC", "crv": "P-256", "use": "x509-svid", "x5c": []string{root.der()}}}}))
	bc("bundle-x509-no-kty", false, "missing json web key type", mustJSON(map[string]any{"keys": []any{map[string]any{"use": "x509-svid", "x5c": []string{root.der()}}}}))
	bc("bundle-x509-x5c-trailing-data", false, "trailing data", mustJSON(map[string]any{"keys": []any{with(rootJWK, "x5c", []string{b64(append(append([]byte{}, root.cert.Raw...), 0))})}}))
	bc("bundle-x509-x5c-base64url", false, "x5c", mustJSON(map[string]any{"keys": []any{with(rootJWK, "x5c", []string{base64.URLEncoding.EncodeToString(root.cert.Raw)})}}))
	bc("bundle-x509-dup-cert", true, `"x509Authorities":1`, mustJSON(map[string]any{"keys": []any{rootJWK, rootJWK}}))
	bc("bundle-x509-with-kid", true, `"x509Authorities":1,"jwtAuthorities":[]`, mustJSON(map[string]any{"keys": []any{with(rootJWK, "kid", "x")}}))
	bc("bundle-x509-leaf-cert", true, `"x509Authorities":1`, mustJSON(map[string]any{"keys": []any{with(ecJWK(&leaf.key.PublicKey), "use", "x509-svid", "x5c", []string{leaf.der()})}}))
	bc("bundle-private-key-d", true, `"jwtAuthorities":["p"]`, mustJSON(map[string]any{"keys": []any{with(ecJWK(&ecKey.PublicKey), "use", "jwt-svid", "kid", "p", "d", b64url(ecKey.D.FillBytes(make([]byte, 32))))}}))
	bc("bundle-jwk-dup-member", false, "duplicate key", `{"keys":[{"kty":"oct","k":"AA","use":"jwt-svid","kid":"a","kid":"b"}]}`)
	bc("bundle-jwk-KTY-uppercase", false, "missing json web key type", `{"keys":[{"KTY":"oct","k":"AA","use":"jwt-svid","kid":"a"}]}`)
	bc("bundle-Spiffe_Sequence-mixedcase", true, `"sequenceNumber":"7"`, `{"keys":[],"Spiffe_Sequence":7}`)
	add(false, "trust domain", map[string]any{"id": "bundle-bad-td", "kind": "bundle", "trustDomain": "Bad TD", "json": `{"keys":[]}`})

	// ---- other ----
	cases = append(cases, tcase{map[string]any{"id": "unsupported", "kind": "wit-svid"}, false, `"unsupported":true`})
	return cases
}

func TestCheckCases(t *testing.T) {
	cases := buildCases(t)
	var jsonl bytes.Buffer
	for _, tc := range cases {
		line := mustJSON(tc.c)
		jsonl.WriteString(line + "\n")
		v, err := checkLine([]byte(line))
		if err != nil {
			t.Errorf("%s: checkLine: %v", tc.c["id"], err)
			continue
		}
		out := mustJSON(v)
		if v.Unsupported {
			if !strings.Contains(out, tc.want) {
				t.Errorf("%s: got %s", tc.c["id"], out)
			}
			continue
		}
		if *v.Valid != tc.expect {
			t.Errorf("%s: valid=%v, want %v: %s", tc.c["id"], *v.Valid, tc.expect, out)
			continue
		}
		if tc.want != "" && !strings.Contains(out, tc.want) {
			t.Errorf("%s: %s does not contain %q", tc.c["id"], out, tc.want)
		}
		if testing.Verbose() {
			t.Logf("%s", out)
		}
	}
	if path := os.Getenv("ORACLE_CASES_OUT"); path != "" {
		if err := os.WriteFile(path, jsonl.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckBrokenInput(t *testing.T) {
	for _, in := range []string{
		`{"id":"a","kind":"spiffe-id"`,     // malformed JSON
		`[1,2]`,                            // not an object
		`{"kind":"spiffe-id","input":"x"}`, // no id
		`{"id":1,"kind":"spiffe-id"}`,      // id not a string
		`{"id":"a","kind":"spiffe-id"}`,    // missing input
		`{"id":"a","kind":"x509-svid","chain":"x","bundle":{},"now":"2030-01-01T00:00:00Z"}`,
		`{"id":"a","kind":"x509-svid","chain":[],"bundle":{"trustDomain":"td","authorities":[]},"now":"yesterday"}`,
	} {
		var out bytes.Buffer
		code := run([]string{"check"}, strings.NewReader(`{"id":"ok","kind":"trust-domain","input":"td"}`+"\n"+in+"\n"), &out, &bytes.Buffer{})
		if code != exitUsage {
			t.Errorf("%s: exit %d, want 2", in, code)
		}
		if !strings.Contains(out.String(), `"id":"ok"`) {
			t.Errorf("%s: verdicts before the broken line were not written: %q", in, out.String())
		}
	}
	var out bytes.Buffer
	if code := run([]string{"check"}, strings.NewReader("\n  \n"), &out, &bytes.Buffer{}); code != 0 || out.Len() != 0 {
		t.Errorf("blank input: exit %d, out %q", code, out.String())
	}
}

func TestSafelyRecoversPanics(t *testing.T) {
	_, err := safely(func() (any, error) { panic("boom") })
	if err == nil || err.Error() != "panic: boom" {
		t.Fatalf("got %v", err)
	}
}
