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
	"testing"
	"time"

	personae "github.com/personae-dev/personae/clients/go"
	personaev1 "github.com/personae-dev/personae/clients/go/gen/personae/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
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

// issueServer returns a PEM server certificate for hosts (DNS names or IP addresses; the first
// is its common name) signed by ca, and its PEM (PKCS #8) key.
func (ca *testCA) issueServer(t *testing.T, hosts ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0]},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.sign(t, tmpl)
}

// issueClient returns a PEM client certificate for commonName with emails as its email
// subject alternative names (the server authenticates a certificate as the service account
// one of them names), signed by ca, and its PEM (PKCS #8) key.
func (ca *testCA) issueClient(t *testing.T, commonName string, emails ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	return ca.sign(t, &x509.Certificate{
		Subject:        pkix.Name{CommonName: commonName},
		EmailAddresses: emails,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// sign completes tmpl (serial number, a validity around now, key usage) for a new key, signs
// it with ca, and returns the PEM certificate and the key's PEM (PKCS #8).
func (ca *testCA) sign(t *testing.T, tmpl *x509.Certificate) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serialNumber(t)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
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
	return startTLSServerWith(t, ca, nil, personae.WithCACert(ca.certPEM)), ca
}

// startMutualTLSServer is startTLSServer with client certificates required
// (--tls-client-auth required) and verified against the test CA (--tls-client-ca).
func startMutualTLSServer(t *testing.T) (*server, *testCA) {
	t.Helper()
	ca := newTestCA(t, "personae test CA")
	caFile := filepath.Join(t.TempDir(), "client-ca.crt")
	if err := os.WriteFile(caFile, ca.certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	// The start-up health check cannot connect without a certificate either.
	healthCert, healthKey := ca.issueClient(t, "personae-health-check")
	srv := startTLSServerWith(t, ca, []string{"--tls-client-ca", caFile, "--tls-client-auth", "required"},
		personae.WithCACert(ca.certPEM), personae.WithClientCert(healthCert, healthKey))
	return srv, ca
}

// startTLSServerWith starts the server (see startServerWith) serving TLS with a certificate for
// localhost and 127.0.0.1 issued by ca, with further arguments to `serve`, checking its health
// with healthOpts.
func startTLSServerWith(t *testing.T, ca *testCA, serveArgs []string, healthOpts ...personae.Option) *server {
	t.Helper()
	certPEM, keyPEM := ca.issueServer(t, "localhost", "127.0.0.1")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--tls-cert", certFile, "--tls-key", keyFile}, serveArgs...)
	return startServerWith(t, args, healthOpts...)
}

// TestTLS calls a server without --tls-client-ca over TLS: verified against the test CA, with
// and without a client certificate (which that server does not request, so it is not sent), and
// it fails at once, not at the deadline, when the server cannot be verified or the client speaks
// plaintext. TestMutualTLS calls a server that requires client certificates.
func TestTLS(t *testing.T) {
	srv, ca := startTLSServer(t)
	clientCert, clientKey := ca.issueClient(t, "personae-test-client")
	other := newTestCA(t, "another CA")
	otherCert, otherKey := other.issueClient(t, "personae-test-client")

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

// TestMutualTLS calls a server that requires client certificates from the test CA: with one,
// health answers SERVING and a certificate naming a service account authenticates as it
// without an API key; without one, or with one from another CA, the handshake fails at once.
func TestMutualTLS(t *testing.T) {
	srv, ca := startMutualTLSServer(t)

	t.Run("health with a client certificate", func(t *testing.T) {
		cert, key := ca.issueClient(t, "personae-test-client")
		c := dialTLS(t, srv, personae.WithCACert(ca.certPEM), personae.WithClientCert(cert, key))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		resp, err := healthpb.NewHealthClient(c.Conn()).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health check with a client certificate: %v, %v", resp.GetStatus(), err)
		}
	})

	// Go's TLS client presents a certificate only when one of the CAs the server's request names
	// issued it: WithClientCert's certificate from another CA is not sent at all. To show that
	// the server refuses such a certificate, GetClientCertificate presents it anyway.
	other := newTestCA(t, "another CA")
	otherCert, otherKey := other.issueClient(t, "personae-test-client")
	otherPair, err := tls.X509KeyPair(otherCert, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	presentOther := &tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &otherPair, nil
	}}
	failures := []struct {
		name   string
		config *tls.Config
		opts   []personae.Option
		alert  string // the server's TLS alert
	}{
		{"no client certificate", &tls.Config{}, nil, "certificate required"},
		{"a client certificate from another CA, not sent", &tls.Config{},
			[]personae.Option{personae.WithClientCert(otherCert, otherKey)}, "certificate required"},
		{"a client certificate from another CA, presented", presentOther, nil, "unknown certificate authority"},
	}
	for _, f := range failures {
		for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			t.Run(fmt.Sprintf("fails: %s, %s", f.name, tls.VersionName(version)), func(t *testing.T) {
				cfg := f.config.Clone()
				cfg.MinVersion, cfg.MaxVersion = version, version
				c := dialTLS(t, srv, append(f.opts, personae.WithTLS(cfg), personae.WithCACert(ca.certPEM))...)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				started := time.Now()
				_, err := healthpb.NewHealthClient(c.Conn()).Check(ctx, &healthpb.HealthCheckRequest{})
				if took := time.Since(started); took > 10*time.Second {
					t.Fatalf("the health check took %v to fail", took)
				}
				if version == tls.VersionTLS12 {
					// The client waits for the server's Finished, and gets its alert instead.
					wantCode(t, "health check", err, codes.Unavailable, "handshake failed", f.alert)
					return
				}
				// In TLS 1.3 the client's handshake is complete before the server checks its
				// certificate: the server's alert races the client's first write, which may
				// fail first on the connection the server closed.
				wantCode(t, "health check", err, codes.Unavailable)
				msg := status.Convert(err).Message()
				if !strings.Contains(msg, f.alert) && !strings.Contains(msg, "broken pipe") &&
					!strings.Contains(msg, "connection reset") {
					t.Fatalf("health check: %q is neither the server's alert %q nor its closing the connection",
						msg, f.alert)
				}
			})
		}
	}

	t.Run("a certificate naming a service account authenticates as it", func(t *testing.T) {
		adminCert, adminKey := ca.issueClient(t, "personae-test-admin")
		admin := dialTLS(t, srv, personae.WithCACert(ca.certPEM), personae.WithClientCert(adminCert, adminKey),
			personae.WithAPIKey(srv.token))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		account, err := admin.Users.CreateUser(ctx, &personaev1.CreateUserRequest{
			Email: "connector@example.com", FullName: "Connector", Kind: personaev1.UserKind_USER_KIND_SERVICE_ACCOUNT,
		})
		if err != nil {
			t.Fatalf("CreateUser of the service account: %v", err)
		}
		bystander, err := admin.Users.CreateUser(ctx, &personaev1.CreateUserRequest{
			Email: "bystander@example.com", FullName: "Bystander",
		})
		if err != nil {
			t.Fatalf("CreateUser of a bystander: %v", err)
		}
		getAccount := &personaev1.GetUserRequest{User: &personaev1.GetUserRequest_Id{Id: account.GetId()}}

		cert, key := ca.issueClient(t, "connector", "connector@example.com")
		connector := dialTLS(t, srv, personae.WithCACert(ca.certPEM), personae.WithClientCert(cert, key))
		got, err := connector.Users.GetUser(ctx, getAccount)
		if err != nil {
			t.Fatalf("GetUser of its own account with its certificate and no API key: %v", err)
		}
		if got.GetId() != account.GetId() || got.GetUsername() != "connector@example.com" ||
			got.GetKind() != personaev1.UserKind_USER_KIND_SERVICE_ACCOUNT {
			t.Fatalf("GetUser returned %v, want the service account %s", got, account.GetId())
		}
		// GetUser of another user needs USER_ADMIN, which the account does not hold: the call
		// is the account's, not some other (admin) caller's.
		getBystander := &personaev1.GetUserRequest{User: &personaev1.GetUserRequest_Id{Id: bystander.GetId()}}
		_, err = connector.Users.GetUser(ctx, getBystander)
		wantCode(t, "GetUser of another user with the account's certificate", err, codes.PermissionDenied)

		strangerCert, strangerKey := ca.issueClient(t, "stranger", "stranger@example.com")
		stranger := dialTLS(t, srv, personae.WithCACert(ca.certPEM), personae.WithClientCert(strangerCert, strangerKey))
		_, err = stranger.Users.GetUser(ctx, getAccount)
		wantCode(t, "GetUser with a certificate naming no one", err, codes.Unauthenticated)
	})
}

// dialTLS dials srv with opts and closes the client when the test ends.
func dialTLS(t *testing.T, srv *server, opts ...personae.Option) *personae.Client {
	t.Helper()
	c, err := personae.Dial(context.Background(), srv.addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestDialRejectsBadTLSMaterial(t *testing.T) {
	ca := newTestCA(t, "personae test CA")
	cert, _ := ca.issueClient(t, "personae-test-client")
	_, otherKey := ca.issueClient(t, "someone else")
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
