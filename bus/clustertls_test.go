package bus

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/testkit"
	"github.com/nats-io/nats-server/v2/server"
)

// testCA is a certificate authority made for a test.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	dir     string
	CAFile  string
	serials int64
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, dir: t.TempDir(), serials: 1}
	ca.CAFile = ca.write(t, "ca.pem", "CERTIFICATE", der)
	return ca
}

func (ca *testCA) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(ca.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// node issues a certificate for 127.0.0.1, for a server and a client
// both, as a cluster node's must be, and returns its files.
func (ca *testCA) node(t *testing.T, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca.serials++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serials),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return ca.write(t, name+".pem", "CERTIFICATE", der), ca.write(t, name+"-key.pem", "PRIVATE KEY", kder)
}

// TestClusterTLS checks that nodes with certificates of the cluster's CA
// form a cluster over mutual TLS, and that a node whose certificate
// another CA signed is refused by them, whichever end dials.
func TestClusterTLS(t *testing.T) {
	ca, stranger := newTestCA(t, "cluster CA"), newTestCA(t, "another CA")
	opts := clusterOptions(t, 3)
	logs := make([]*testkit.Buffer, len(opts))
	srvs := make([]*server.Server, len(opts))
	for i, o := range opts {
		logs[i] = &testkit.Buffer{}
		o.Logger = slog.New(slog.NewTextHandler(logs[i], nil))
		issuer := ca
		if i == 2 {
			issuer = stranger
		}
		o.ClusterCertFile, o.ClusterKeyFile = issuer.node(t, "node"+string(rune('0'+i)))
		o.ClusterCAFile = ca.CAFile // the stranger trusts the cluster's CA: the others must refuse it all the same
		nc, srv, err := StartEmbedded(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close(); srv.Shutdown(); srv.WaitForShutdown() })
		srvs[i] = srv
	}
	a, b := srvs[0], srvs[1]
	deadline := time.Now().Add(15 * time.Second)
	for !routedTo(a, b.Name()) || !routedTo(b, a.Name()) {
		if time.Now().After(deadline) {
			t.Fatalf("no route between %s and %s after 15s:\n%s", a.Name(), b.Name(), logs[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Node 2 dials both others, and they dial it: each refusal is logged.
	for i := range 2 {
		deadline := time.Now().Add(15 * time.Second)
		for strings.Count(logs[i].String(), "TLS route handshake error") < 2 || !strings.Contains(logs[i].String(), "(check bus.nats.cluster.tls") {
			if time.Now().After(deadline) {
				t.Fatalf("node %d logs no refusal of node 2 both ways:\n%s", i, logs[i])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i, s := range srvs {
		want := 1
		if i == 2 {
			want = 0
		}
		if got := routedPeers(s); len(got) != want {
			t.Errorf("node %d has routes to %v, want %d node(s)", i, got, want)
		}
	}
}

// TestClusterTLSNeedsCA checks that cluster TLS without a CA file is
// refused: any certificate of a public CA would join the cluster.
func TestClusterTLSNeedsCA(t *testing.T) {
	o := clusterOptions(t, 1)[0]
	o.ClusterCertFile, o.ClusterKeyFile = newTestCA(t, "ca").node(t, "node")
	if _, _, err := StartEmbedded(o); err == nil || !strings.Contains(err.Error(), "needs a CA file") {
		t.Errorf("err = %v, want a CA file asked for", err)
	}
}
