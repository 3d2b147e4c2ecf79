// Package tlsfiles checks the certificate and key files of a TLS setting
// before they are used, so that a bad file is refused at start, on reload
// and by routerctl config validate, naming its key and the file, rather
// than found at a handshake in words that name neither. The checks are
// here once, for the HTTP listener's files and the cluster's (package bus
// adds the cluster's own).
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Error is a problem with a file of a TLS setting.
type Error struct {
	// Key is the key path of the file, e.g. http.tls.cert_file.
	Key string
	// Reason says what is wrong, naming the file.
	Reason string
}

func (e *Error) Error() string { return e.Key + " " + e.Reason }

// Errorf makes an Error at key.
func Errorf(key, format string, args ...any) *Error {
	return &Error{Key: key, Reason: fmt.Sprintf(format, args...)}
}

// Pair is a certificate file and its key file, read and checked.
type Pair struct {
	// CertPEM is the certificate file's content.
	CertPEM []byte
	// Leaf is its first certificate, the one the key is of.
	Leaf *x509.Certificate
	// Chain holds its further certificates, intermediates.
	Chain []*x509.Certificate
}

// Read reads file, the file of key.
func Read(key, file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, Errorf(key, "%s: %v", file, err)
	}
	return data, nil
}

// CheckPair reads certFile and keyFile, the files of prefix.cert_file and
// prefix.key_file, and checks that certFile holds a PEM certificate valid
// at now and that keyFile holds its private key. A problem is an *Error.
func CheckPair(prefix, certFile, keyFile string, now time.Time) (*Pair, error) {
	certKey, keyKey := prefix+".cert_file", prefix+".key_file"
	certPEM, err := Read(certKey, certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := Read(keyKey, keyFile)
	if err != nil {
		return nil, err
	}
	certs, err := certificates(certPEM)
	if err != nil {
		return nil, Errorf(certKey, "%s %v", certFile, err)
	}
	// The key file on its own first: of garbage, or a certificate given
	// for the key, X509KeyPair would say only that the pair does not match.
	if err := privateKey(keyPEM); err != nil {
		return nil, Errorf(keyKey, "%s %v", keyFile, err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, Errorf(keyKey, "%s is not the private key of cert_file %s: %v", keyFile, certFile, err)
	}
	leaf := certs[0]
	switch stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }; {
	case now.After(leaf.NotAfter):
		return nil, Errorf(certKey, "%s: the certificate expired at %s", certFile, stamp(leaf.NotAfter))
	case now.Before(leaf.NotBefore):
		return nil, Errorf(certKey, "%s: the certificate is valid only from %s", certFile, stamp(leaf.NotBefore))
	}
	return &Pair{CertPEM: certPEM, Leaf: leaf, Chain: certs[1:]}, nil
}

// privateKey checks that a PEM file holds a private key that can be read,
// in one of the forms crypto/tls reads: PKCS #8, PKCS #1 (RSA), SEC 1 (EC).
func privateKey(data []byte) error {
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return errors.New("holds no PEM private key")
		}
		if b.Type != "PRIVATE KEY" && !strings.HasSuffix(b.Type, " PRIVATE KEY") {
			continue
		}
		if _, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
			return nil
		}
		if _, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
			return nil
		}
		if _, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
			return nil
		}
		return fmt.Errorf("holds a PEM private key (%s) that cannot be read", b.Type)
	}
}

// certificates parses the certificates of a PEM file, at least one.
func certificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("holds a certificate that cannot be read (number %d in the file): %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("holds no PEM certificate")
	}
	return certs, nil
}
