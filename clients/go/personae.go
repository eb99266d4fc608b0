// Package personae is the Go client of the personae identity and permissions service.
//
// Dial opens one gRPC connection and exposes a client for each service of the API
// (package personae.v1), generated into the personaev1 package:
//
//	c, err := personae.Dial(ctx, "127.0.0.1:50051", personae.WithAPIKey(os.Getenv("PERSONAE_API_KEY")))
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	user, err := c.Users.CreateUser(ctx, &personaev1.CreateUserRequest{
//		Email:    "ada@example.com",
//		FullName: "Ada Lovelace",
//	})
//
// Over TLS, WithCACert names the CA that issued the server's certificate, and WithClientCert
// adds a client certificate:
//
//	ca, err := os.ReadFile("ca.crt")
//	...
//	c, err := personae.Dial(ctx, "personae.internal:50051",
//		personae.WithCACert(ca), personae.WithAPIKey(key))
//
// Errors are gRPC statuses: use status.Code(err) to tell codes.InvalidArgument,
// codes.NotFound, codes.AlreadyExists, codes.PermissionDenied and so on apart.
package personae

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	personaev1 "github.com/personae-dev/personae/clients/go/gen/personae/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// ConsistencyTokenHeader is the response header in which every mutating RPC returns the policy
// revision it committed. Read it with grpc.Header and pass it to a check RPC as
// Consistency{AtLeastAsFresh: token} to get an answer at least that fresh.
const ConsistencyTokenHeader = "personae-consistency-token"

// Client is a connection to a personae server with a client for each of its services. It is
// safe for concurrent use; Close it when done.
type Client struct {
	Users         personaev1.UsersClient
	Groups        personaev1.GroupsClient
	Permissions   personaev1.PermissionsClient
	IamConfig     personaev1.IamConfigClient
	Impersonation personaev1.ImpersonationClient
	Audit         personaev1.AuditClient

	conn *grpc.ClientConn
}

// Option configures Dial.
type Option func(*options)

type options struct {
	apiKey      string
	tls         bool
	tlsConfig   *tls.Config
	caPEM       []byte
	hasCA       bool
	certPEM     []byte
	keyPEM      []byte
	hasCert     bool
	serverName  string
	dialOptions []grpc.DialOption
}

// WithAPIKey sends `authorization: Bearer <key>` with every call. Over plaintext the key travels
// unencrypted: use TLS (WithCACert, WithTLS) for anything but a local or otherwise protected
// network.
func WithAPIKey(key string) Option {
	return func(o *options) { o.apiKey = key }
}

// WithCACert connects over TLS and verifies the server's certificate against the CA
// certificates in caPEM (one or more PEM "CERTIFICATE" blocks, such as the contents of a
// ca.crt file) instead of the system's roots. Dial fails if caPEM holds no certificate.
func WithCACert(caPEM []byte) Option {
	return func(o *options) {
		o.tls = true
		o.caPEM = caPEM
		o.hasCA = true
	}
}

// WithClientCert connects over TLS and presents a client certificate when the server asks for
// one (mutual TLS): certPEM is the PEM certificate chain, leaf first, and keyPEM its PEM private
// key (PKCS #8, PKCS #1 or SEC 1). Dial fails if they do not parse or do not belong together.
func WithClientCert(certPEM, keyPEM []byte) Option {
	return func(o *options) {
		o.tls = true
		o.certPEM = certPEM
		o.keyPEM = keyPEM
		o.hasCert = true
	}
}

// WithServerName connects over TLS and verifies the server's certificate for name (also sent
// as SNI) instead of the host in Dial's address: for dialing an IP address, or a name the
// certificate was not issued for, such as a port-forward to localhost.
func WithServerName(name string) Option {
	return func(o *options) {
		o.tls = true
		o.serverName = name
	}
}

// WithTLS connects over TLS with config, or, when config is nil, with TLS 1.2 or later verified
// against the system's roots. WithCACert, WithClientCert and WithServerName, when also given,
// apply to a copy of config. Without any of these options the connection is plaintext.
func WithTLS(config *tls.Config) Option {
	return func(o *options) {
		o.tls = true
		o.tlsConfig = config
	}
}

// WithDialOptions passes further options to grpc.NewClient (interceptors, keepalive, ...).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

// Dial returns a Client for the server at addr ("host:port"). Like grpc.NewClient it does not
// wait for the connection: the first call connects, within that call's own deadline. ctx is
// only checked before anything is set up.
func Dial(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if addr == "" {
		return nil, errors.New("personae: empty server address")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}

	dialOpts := make([]grpc.DialOption, 0, 2+len(o.dialOptions))
	if o.tls {
		cfg, err := o.buildTLSConfig()
		if err != nil {
			return nil, err
		}
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	} else {
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if o.apiKey != "" {
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(bearer{key: o.apiKey, requireTLS: o.tls}))
	}
	dialOpts = append(dialOpts, o.dialOptions...)

	conn, err := grpc.NewClient(addr, dialOpts...)
	if err != nil {
		return nil, err
	}
	return &Client{
		Users:         personaev1.NewUsersClient(conn),
		Groups:        personaev1.NewGroupsClient(conn),
		Permissions:   personaev1.NewPermissionsClient(conn),
		IamConfig:     personaev1.NewIamConfigClient(conn),
		Impersonation: personaev1.NewImpersonationClient(conn),
		Audit:         personaev1.NewAuditClient(conn),
		conn:          conn,
	}, nil
}

// buildTLSConfig is WithTLS's config (a copy of it when other TLS options change it) or a TLS
// 1.2+ config, with the CA, the client certificate and the server name of the other options.
func (o *options) buildTLSConfig() (*tls.Config, error) {
	if !o.hasCA && !o.hasCert && o.serverName == "" {
		if o.tlsConfig != nil {
			return o.tlsConfig, nil
		}
		return &tls.Config{MinVersion: tls.VersionTLS12}, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.tlsConfig != nil {
		cfg = o.tlsConfig.Clone()
	}
	if o.hasCA {
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(o.caPEM) {
			return nil, errors.New("personae: WithCACert: no PEM certificate in the CA given")
		}
		cfg.RootCAs = roots
	}
	if o.hasCert {
		pair, err := tls.X509KeyPair(o.certPEM, o.keyPEM)
		if err != nil {
			return nil, fmt.Errorf("personae: WithClientCert: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if o.serverName != "" {
		cfg.ServerName = o.serverName
	}
	return cfg, nil
}

// Conn is the underlying connection, for other services on the same server (grpc.health.v1,
// reflection) or for watching its state.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close closes the connection; calls in flight fail with codes.Canceled.
func (c *Client) Close() error { return c.conn.Close() }

// bearer is the per-RPC credential carrying the API key.
type bearer struct {
	key        string
	requireTLS bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.key}, nil
}

// RequireTransportSecurity is false on a plaintext connection, so the key may be sent there
// (a local server, a sidecar); over TLS it is true and gRPC refuses to send it in the clear.
func (b bearer) RequireTransportSecurity() bool { return b.requireTLS }
