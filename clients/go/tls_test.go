package personae_test

import (
	"context"
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
	"strings"
	"sync"
	"testing"
	"time"

	personae "github.com/personae-dev/personae/clients/go"
	personaev1 "github.com/personae-dev/personae/clients/go/gen/personae/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serialNumber(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate for commonName signed by ca, and its PEM (PKCS #8) key. With
// hosts (DNS names or IP addresses) it is a server certificate for them, without a client one.
func (ca *testCA) issue(t *testing.T, commonName string, hosts ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serialNumber(t),
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(hosts) > 0 {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func serialNumber(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// startTLSServer starts the server (see startServer) serving TLS with a certificate for
// localhost and 127.0.0.1 issued by a CA made for the test, which it returns too.
func startTLSServer(t *testing.T) (*server, *testCA) {
	t.Helper()
	ca := newTestCA(t, "personae test CA")
	certPEM, keyPEM := ca.issue(t, "localhost", "localhost", "127.0.0.1")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServerWith(t, []string{"--tls-cert", certFile, "--tls-key", keyFile}, personae.WithCACert(ca.certPEM))
	return srv, ca
}

// TestTLS calls the server over TLS: verified against the test CA, with and without a client
// certificate (the server does not ask for one yet, so this shows the client is set up and
// connects with one), and it fails at once, not at the deadline, when the server cannot be
// verified or the client speaks plaintext.
func TestTLS(t *testing.T) {
	srv, ca := startTLSServer(t)
	clientCert, clientKey := ca.issue(t, "personae-test-client")
	other := newTestCA(t, "another CA")
	otherCert, otherKey := other.issue(t, "personae-test-client")

	t.Run("CA", func(t *testing.T) {
		callOverTLS(t, srv, personae.WithCACert(ca.certPEM))
	})
	t.Run("CA and client certificate", func(t *testing.T) {
		callOverTLS(t, srv, personae.WithCACert(ca.certPEM), personae.WithClientCert(clientCert, clientKey))
	})
	t.Run("server name", func(t *testing.T) {
		callOverTLS(t, srv, personae.WithCACert(ca.certPEM), personae.WithServerName("localhost"))
	})
	t.Run("CA on a config of ones own", func(t *testing.T) {
		callOverTLS(t, srv, personae.WithTLS(&tls.Config{MinVersion: tls.VersionTLS13}), personae.WithCACert(ca.certPEM))
	})

	failures := []struct {
		name      string
		opts      []personae.Option
		fragments []string
	}{
		{"no CA (the system's roots)", []personae.Option{personae.WithTLS(nil)}, []string{"certificate"}},
		{"another CA", []personae.Option{personae.WithCACert(other.certPEM)}, []string{"certificate"}},
		{"another CA with its client certificate", []personae.Option{
			personae.WithCACert(other.certPEM), personae.WithClientCert(otherCert, otherKey),
		}, []string{"certificate"}},
		{"a name the certificate is not for", []personae.Option{
			personae.WithCACert(ca.certPEM), personae.WithServerName("elsewhere.example"),
		}, []string{"certificate", "elsewhere.example"}},
		{"plaintext", nil, nil},
	}
	for _, f := range failures {
		t.Run("fails: "+f.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := personae.Dial(ctx, srv.addr, append(f.opts, personae.WithAPIKey(srv.token))...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			started := time.Now()
			_, err = c.Users.GetUser(ctx, &personaev1.GetUserRequest{User: &personaev1.GetUserRequest_Username{Username: "nobody@example.com"}})
			wantCode(t, "GetUser", err, codes.Unavailable, f.fragments...)
			if took := time.Since(started); took > 10*time.Second {
				t.Fatalf("GetUser took %v to fail", took)
			}
		})
	}
}

// callOverTLS dials srv with opts and its API key, then checks health, makes an authenticated
// call, and checks that the connection is TLS 1.2 or later with ALPN h2.
func callOverTLS(t *testing.T, srv *server, opts ...personae.Option) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := personae.Dial(ctx, srv.addr, append(opts, personae.WithAPIKey(srv.token))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	resp, err := healthpb.NewHealthClient(c.Conn()).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health check over TLS: %v, %v", resp.GetStatus(), err)
	}

	email := fmt.Sprintf("tls.%d@example.com", time.Now().UnixNano())
	var p peer.Peer
	user, err := c.Users.CreateUser(ctx, &personaev1.CreateUserRequest{Email: email, FullName: "Over TLS"}, grpc.Peer(&p))
	if err != nil {
		t.Fatalf("CreateUser over TLS: %v", err)
	}
	if user.GetUsername() != email {
		t.Fatalf("CreateUser returned %v", user)
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		t.Fatalf("the call's peer has auth info %T, not TLS", p.AuthInfo)
	}
	if v := info.State.Version; v < tls.VersionTLS12 {
		t.Fatalf("TLS version %s, want 1.2 or later", tls.VersionName(v))
	}
	if proto := info.State.NegotiatedProtocol; proto != "h2" {
		t.Fatalf("ALPN protocol %q, want h2", proto)
	}
}

// TestClientCertificateIsPresented runs a stand-in gRPC server that requires a client
// certificate from the test CA (personae does not ask for one yet) to show that WithClientCert
// presents the certificate, and that without one the call fails.
func TestClientCertificateIsPresented(t *testing.T) {
	ca := newTestCA(t, "personae test CA")
	serverCert, serverKey := ca.issue(t, "localhost", "localhost", "127.0.0.1")
	pair, err := tls.X509KeyPair(serverCert, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(ca.cert)

	var mu sync.Mutex
	var presented []string
	gs := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(&tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{pair},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    clientCAs,
		})),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			if p, ok := peer.FromContext(ctx); ok {
				if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.VerifiedChains) > 0 {
					mu.Lock()
					presented = append(presented, info.State.VerifiedChains[0][0].Subject.CommonName)
					mu.Unlock()
				}
			}
			return handler(ctx, req)
		}),
	)
	healthpb.RegisterHealthServer(gs, health.NewServer())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)

	check := func(opts ...personae.Option) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := personae.Dial(ctx, l.Addr().String(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = healthpb.NewHealthClient(c.Conn()).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}

	clientCert, clientKey := ca.issue(t, "personae-test-client")
	if err := check(personae.WithCACert(ca.certPEM), personae.WithClientCert(clientCert, clientKey)); err != nil {
		t.Fatalf("health check with a client certificate: %v", err)
	}
	mu.Lock()
	got := strings.Join(presented, ",")
	mu.Unlock()
	if got != "personae-test-client" {
		t.Fatalf("the server saw client certificates %q, want personae-test-client", got)
	}

	started := time.Now()
	err = check(personae.WithCACert(ca.certPEM))
	wantCode(t, "health check without a client certificate", err, codes.Unavailable)
	if took := time.Since(started); took > 10*time.Second {
		t.Fatalf("the health check took %v to fail", took)
	}
}

func TestDialRejectsBadTLSMaterial(t *testing.T) {
	ca := newTestCA(t, "personae test CA")
	cert, _ := ca.issue(t, "personae-test-client")
	_, otherKey := ca.issue(t, "someone else")
	cases := []struct {
		name     string
		opt      personae.Option
		fragment string
	}{
		{"a CA that is no PEM certificate", personae.WithCACert([]byte("not a certificate")), "WithCACert"},
		{"an empty CA", personae.WithCACert(nil), "WithCACert"},
		{"a key that is not the certificate's", personae.WithClientCert(cert, otherKey), "WithClientCert"},
		{"an empty client certificate", personae.WithClientCert(nil, nil), "WithClientCert"},
	}
	for _, c := range cases {
		_, err := personae.Dial(context.Background(), "127.0.0.1:1", c.opt)
		if err == nil || !strings.Contains(err.Error(), c.fragment) {
			t.Errorf("Dial with %s: %v, want an error naming %s", c.name, err, c.fragment)
		}
	}
}
