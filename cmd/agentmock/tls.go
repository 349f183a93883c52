package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certValidity is how long a certificate made at start is valid: longer
// than any run, and its key never leaves the process.
const certValidity = 365 * 24 * time.Hour

// serving is the certificate that -tls serves, and the PEM file that names
// it for clients to trust.
type serving struct {
	cert tls.Certificate
	file string // absolute
	dir  string // a temporary directory to remove at exit, or ""
}

// loadCertificate reads the files of -tls-cert and -tls-key, and checks
// that they are a certificate and its key. Each error names the flag, or
// the variable, of the file at fault.
func (o *options) loadCertificate() (*serving, error) {
	certPEM, err := os.ReadFile(o.tlsCert)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.from.of("tls-cert"), err)
	}
	keyPEM, err := os.ReadFile(o.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.from.of("tls-key"), err)
	}
	block, rest := pem.Decode(certPEM)
	for block != nil && block.Type != "CERTIFICATE" {
		block, rest = pem.Decode(rest)
	}
	if block == nil {
		return nil, fmt.Errorf("%s %s: no PEM CERTIFICATE block", o.from.of("tls-cert"), o.tlsCert)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return nil, fmt.Errorf("%s %s: %w", o.from.of("tls-cert"), o.tlsCert, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s %s, the key of %s %s: %w", o.from.of("tls-key"), o.tlsKey, o.from.of("tls-cert"), o.tlsCert, err)
	}
	file, err := filepath.Abs(o.tlsCert)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.from.of("tls-cert"), err)
	}
	return &serving{cert: cert, file: file}, nil
}

// makeCertificate makes a self-signed certificate for 127.0.0.1, ::1,
// localhost and the host of addr, and writes its PEM to a new temporary
// directory. The certificate is its own CA, so that clients that take a
// file of CAs to trust (curl --cacert, Python's cafile, Node's
// NODE_EXTRA_CA_CERTS) can take it; its key is never written.
func makeCertificate(addr string, now time.Time) (*serving, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"agentmock"}, CommonName: "agentmock"},
		NotBefore:             now.Add(-time.Hour), // a client whose clock is a little behind
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
		if ip := net.ParseIP(host); ip == nil {
			if host != "localhost" {
				tmpl.DNSNames = append(tmpl.DNSNames, host)
			}
		} else if !ip.IsUnspecified() && !ip.IsLoopback() {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "agentmock-")
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if file, err = filepath.Abs(file); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &serving{cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, file: file, dir: dir}, nil
}

// outsideValidity reports whether the leaf of c is not valid at now, as a
// certificate of -tls-cert may be: worth a warning, as clients will refuse
// it, but no refusal, as a test may want just that.
func outsideValidity(c tls.Certificate, now time.Time) bool {
	return c.Leaf != nil && (now.Before(c.Leaf.NotBefore) || now.After(c.Leaf.NotAfter))
}
