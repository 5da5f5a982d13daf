// Command go-spiffe-oracle judges SPIFFE artefacts (SPIFFE IDs, trust domains,
// X509-SVIDs, JWT-SVIDs, SPIFFE bundles) with go-spiffe, and talks to a
// SPIFFE Workload API with go-spiffe's workloadapi client, so that Parley's
// TypeScript implementation can be compared with what real Go clients do.
//
// See README.md for the subcommands and the JSON shapes.
package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

const goSpiffeModule = "github.com/spiffe/go-spiffe/v2"

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the artefact is invalid, or an operation failed
	exitUsage = 2 // bad command line, or malformed input to `check`
)

// usageError marks errors that are the caller's fault (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usageText = `usage: go-spiffe-oracle <command> [flags]

offline:
  check                         JSON Lines cases on stdin -> one JSON verdict per line on stdout
  verify-x509 --svid F.pem --bundle F.pem --trust-domain TD [--now RFC3339]
  verify-jwt --token T|- --bundle F.json --trust-domain TD [--audience A]... [--format spiffe|jwks]
  parse-bundle --trust-domain TD F.json|-
  version                       prints the go-spiffe and Go versions as JSON

Workload API (flags: --socket unix:///path (default $SPIFFE_ENDPOINT_SOCKET), --timeout 10s):
  fetch-x509 [--write DIR]
  fetch-jwt --audience A [--audience B]... [--spiffe-id ID]
  validate-jwt --audience A --token T|-
  fetch-jwt-bundles
  watch --count N               (--timeout bounds the whole watch)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "check":
		if len(rest) != 0 {
			err = usagef("check takes no arguments")
			break
		}
		err = runCheck(stdin, stdout)
	case "verify-x509":
		err = cmdVerifyX509(rest, stdout)
	case "verify-jwt":
		err = cmdVerifyJWT(rest, stdin, stdout)
	case "parse-bundle":
		err = cmdParseBundle(rest, stdin, stdout)
	case "version":
		err = writeJSON(stdout, map[string]string{"goSpiffe": goSpiffeVersion(), "go": runtime.Version()})
	case "fetch-x509":
		err = cmdFetchX509(rest, stdout)
	case "fetch-jwt":
		err = cmdFetchJWT(rest, stdout)
	case "validate-jwt":
		err = cmdValidateJWT(rest, stdin, stdout)
	case "fetch-jwt-bundles":
		err = cmdFetchJWTBundles(rest, stdout)
	case "watch":
		err = cmdWatch(rest, stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		fmt.Fprintf(stderr, "go-spiffe-oracle: unknown command %q\n%s", cmd, usageText)
		return exitUsage
	}
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "go-spiffe-oracle %s: %s\n", cmd, oneLine(err.Error()))
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFail
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func goSpiffeVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == goSpiffeModule {
				if dep.Replace != nil {
					return dep.Replace.Version
				}
				return dep.Version
			}
		}
	}
	return "unknown"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// newFlags returns a flag set whose parse errors become usage errors. Flags
// and positional arguments may be interleaved.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stderr)
				fs.PrintDefaults()
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func readArgOrStdin(v string, stdin io.Reader) (string, error) {
	if v != "-" {
		return v, nil
	}
	b, err := io.ReadAll(stdin)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func readFileOrStdin(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(path)
}

// readPEMCerts reads every CERTIFICATE block of a PEM file, in order.
func readPEMCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", path, len(certs), err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE blocks", path)
	}
	return certs, nil
}

func cmdVerifyX509(args []string, stdout io.Writer) error {
	fs := newFlags("verify-x509")
	svidPath := fs.String("svid", "", "PEM file with the SVID chain, leaf first")
	bundlePath := fs.String("bundle", "", "PEM file with the X.509 authorities")
	tdName := fs.String("trust-domain", "", "trust domain of the bundle")
	nowStr := fs.String("now", "", "verification time (RFC 3339); default: now")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *svidPath == "" || *bundlePath == "" || *tdName == "" {
		return usagef("need --svid FILE.pem --bundle FILE.pem --trust-domain TD")
	}
	td, err := spiffeid.TrustDomainFromString(*tdName)
	if err != nil {
		return usagef("--trust-domain: %v", err)
	}
	var opts []x509svid.VerifyOption
	if *nowStr != "" {
		now, err := time.Parse(time.RFC3339, *nowStr)
		if err != nil {
			return usagef("--now: %v", err)
		}
		opts = append(opts, x509svid.WithTime(now))
	}
	chain, err := readPEMCerts(*svidPath)
	if err != nil {
		return err
	}
	authorities, err := readPEMCerts(*bundlePath)
	if err != nil {
		return err
	}
	id, _, err := x509svid.Verify(chain, x509bundle.FromX509Authorities(td, authorities), opts...)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, id.String())
	return err
}

// jwtClaimsOutput is what verify-jwt and validate-jwt print.
type jwtClaimsOutput struct {
	SpiffeID string         `json:"spiffeId"`
	Audience []string       `json:"audience"`
	Expiry   string         `json:"expiry"`
	Claims   map[string]any `json:"claims"`
}

func claimsOutput(svid *jwtsvid.SVID) jwtClaimsOutput {
	aud := svid.Audience
	if aud == nil {
		aud = []string{}
	}
	return jwtClaimsOutput{
		SpiffeID: svid.ID.String(),
		Audience: aud,
		Expiry:   svid.Expiry.UTC().Format(time.RFC3339),
		Claims:   svid.Claims,
	}
}

func cmdVerifyJWT(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlags("verify-jwt")
	token := fs.String("token", "", "the JWT-SVID (compact JWS), or - to read it from stdin")
	bundlePath := fs.String("bundle", "", "bundle JSON file")
	tdName := fs.String("trust-domain", "", "trust domain of the bundle")
	format := fs.String("format", "spiffe", "bundle format: spiffe (SPIFFE bundle, keys need use=jwt-svid) or jwks (plain JWKS, every key needs a kid)")
	var audience stringList
	fs.Var(&audience, "audience", "accepted audience (repeatable)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *token == "" || *bundlePath == "" || *tdName == "" {
		return usagef("need --token T --bundle FILE.json --trust-domain TD [--audience A]...")
	}
	td, err := spiffeid.TrustDomainFromString(*tdName)
	if err != nil {
		return usagef("--trust-domain: %v", err)
	}
	tok, err := readArgOrStdin(*token, stdin)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(*bundlePath)
	if err != nil {
		return err
	}
	var source jwtbundle.Source
	switch *format {
	case "spiffe":
		b, err := spiffebundle.Parse(td, data)
		if err != nil {
			return err
		}
		source = b.JWTBundle()
	case "jwks":
		b, err := jwtbundle.Parse(td, data)
		if err != nil {
			return err
		}
		source = b
	default:
		return usagef("--format must be spiffe or jwks")
	}
	svid, err := jwtsvid.ParseAndValidate(tok, source, audience)
	if err != nil {
		return err
	}
	return writeJSON(stdout, claimsOutput(svid))
}

func cmdParseBundle(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlags("parse-bundle")
	tdName := fs.String("trust-domain", "", "trust domain of the bundle")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *tdName == "" {
		return usagef("need --trust-domain TD FILE.json (or - for stdin)")
	}
	td, err := spiffeid.TrustDomainFromString(*tdName)
	if err != nil {
		return usagef("--trust-domain: %v", err)
	}
	data, err := readFileOrStdin(pos[0], stdin)
	if err != nil {
		return err
	}
	b, err := spiffebundle.Parse(td, data)
	if err != nil {
		return err
	}
	return writeJSON(stdout, describeBundle(b))
}
