package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Credentials and TLS (DESIGN §9): who the CLI says it is, and how it
// trusts the servers. The flags are global; the environment fills in
// what they leave out, so that completion scripts and shells set them
// once.

// authFlags are the global flags of credentials and TLS, as etcdctl
// names them.
type authFlags struct {
	user                 string
	cacert, cert, keyPEM string
}

func (a *authFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&a.user, "user", "", "authenticate as `USER` (default: $CANOPY_USER; the password comes from $CANOPY_PASSWORD, or is asked on a terminal)")
	fs.StringVar(&a.cacert, "cacert", "", "trust the servers' certificates signed by the CAs of this PEM `FILE` (default: $CANOPY_CACERT, else the system's)")
	fs.StringVar(&a.cert, "cert", "", "present the client certificate of this PEM `FILE` (default: $CANOPY_CERT)")
	fs.StringVar(&a.keyPEM, "key", "", "the private key of --cert, a PEM `FILE` (default: $CANOPY_KEY)")
}

// fromEnv fills in the flags not given.
func (a *authFlags) fromEnv() {
	for _, f := range []struct {
		v   *string
		env string
	}{{&a.user, "CANOPY_USER"}, {&a.cacert, "CANOPY_CACERT"}, {&a.cert, "CANOPY_CERT"}, {&a.keyPEM, "CANOPY_KEY"}} {
		if *f.v == "" {
			*f.v = os.Getenv(f.env)
		}
	}
}

// tlsConfig is the client's TLS configuration: nil when no TLS flag is
// given (an https:// server is then checked against the system's CAs).
func (a *authFlags) tlsConfig() (*tls.Config, error) {
	if a.cacert == "" && a.cert == "" && a.keyPEM == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if a.cacert != "" {
		pem, err := os.ReadFile(a.cacert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert: %s holds no PEM certificate", a.cacert)
		}
		cfg.RootCAs = pool
	}
	switch {
	case a.cert != "" && a.keyPEM != "":
		pair, err := tls.LoadX509KeyPair(a.cert, a.keyPEM)
		if err != nil {
			return nil, fmt.Errorf("--cert and --key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case a.cert != "":
		return nil, errors.New("--cert needs --key, the certificate's private key")
	case a.keyPEM != "":
		return nil, errors.New("--key goes with --cert")
	}
	return cfg, nil
}

// password is the password of user: $CANOPY_PASSWORD when set (even
// empty), else a line asked for on a terminal. Without a terminal there
// is nobody to ask.
func (e *env) password(user string) (string, error) {
	if pw, ok := os.LookupEnv("CANOPY_PASSWORD"); ok {
		return pw, nil
	}
	if !isTerminal(e.stdin) {
		return "", e.usage("--user %s needs a password: set CANOPY_PASSWORD (stdin is not a terminal to ask on)", user)
	}
	return e.askLine(fmt.Sprintf("Password for %s: ", user))
}

// askLine prompts on stderr and reads one line from stdin. The line is
// echoed as typed: hiding it needs golang.org/x/term, which the module
// does not depend on. CANOPY_PASSWORD avoids typing it.
func (e *env) askLine(prompt string) (string, error) {
	fmt.Fprint(e.stderr, prompt)
	line, err := readLine(e.stdin)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return line, nil
}

// readLine reads up to a newline, a byte at a time: what follows the
// line stays in r for whoever reads it next (data given as "-").
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			b.WriteByte(buf[0])
		}
		if errors.Is(err, io.EOF) {
			if b.Len() == 0 {
				return "", io.ErrUnexpectedEOF
			}
			break
		}
		if err != nil {
			return "", err
		}
	}
	return strings.TrimSuffix(b.String(), "\r"), nil
}

// isTerminal reports whether f (a stream of the process) is a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	fi, err := file.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
