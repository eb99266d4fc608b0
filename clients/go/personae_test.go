package personae_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	personae "github.com/personae-dev/personae/clients/go"
	personaev1 "github.com/personae-dev/personae/clients/go/gen/personae/v1"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// server is a personae process started for one test.
type server struct {
	addr  string
	token string
}

// startServer runs `$PERSONAE_BIN serve` (default: the release build of this repository) on
// free local ports in a temporary directory, with a bootstrap admin whose key is token, waits
// until it reports SERVING, and stops it with SIGTERM when the test ends, failing the test if
// it does not exit cleanly.
func startServer(t *testing.T) *server {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith is startServer with further arguments to `serve` (such as --tls-cert), and
// the options with which the health check reaches the server.
func startServerWith(t *testing.T, serveArgs []string, healthOpts ...personae.Option) *server {
	t.Helper()
	bin := os.Getenv("PERSONAE_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "target", "release", "personae")
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("personae binary: %v (build it with `cargo build --release --locked` or set PERSONAE_BIN)", err)
	}
	dir := t.TempDir()

	tokenCmd := exec.Command(bin, "bootstrap", "--new-token")
	tokenCmd.Dir = dir
	tokenCmd.Env = serverEnv()
	out, err := tokenCmd.Output()
	if err != nil {
		t.Fatalf("personae bootstrap --new-token: %v", err)
	}
	token := strings.TrimSpace(string(out))
	if !strings.HasPrefix(token, "prs_") {
		t.Fatalf("personae bootstrap --new-token printed %q, not an API key", token)
	}

	addr, metricsAddr := freeAddr(t), freeAddr(t)
	var stdout, stderr bytes.Buffer
	args := append([]string{"serve", "--listen", addr, "--metrics-listen", metricsAddr}, serveArgs...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(serverEnv(), "PERSONAE_BOOTSTRAP_TOKEN="+token)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("personae serve exited with %v after SIGTERM\nstderr:\n%s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("personae serve did not stop within 10s of SIGTERM")
		}
	})

	waitHealthy(t, addr, exited, &stderr, healthOpts...)
	return &server{addr: addr, token: token}
}

// serverEnv is this process's environment without PERSONAE_* variables, so the server sees
// only what the test gives it.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PERSONAE_") {
			env = append(env, kv)
		}
	}
	return env
}

// freeAddr returns a local address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitHealthy polls grpc.health.v1 (which needs no key) until the server answers SERVING.
func waitHealthy(t *testing.T, addr string, exited <-chan error, stderr *bytes.Buffer, opts ...personae.Option) {
	t.Helper()
	c, err := personae.Dial(context.Background(), addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	health := healthpb.NewHealthClient(c.Conn())
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("personae serve exited during start-up (%v)\nstderr:\n%s", err, stderr.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("personae serve not SERVING within 30s (last: %v, %v)\nstderr:\n%s", resp.GetStatus(), err, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wantCode fails the test unless err is a gRPC status with code want whose message contains
// every one of the given fragments.
func wantCode(t *testing.T, what string, err error, want codes.Code, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want %v", what, want)
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("%s: %v is not a gRPC status", what, err)
	}
	if st.Code() != want {
		t.Fatalf("%s: code %v (%q), want %v", what, st.Code(), st.Message(), want)
	}
	for _, f := range fragments {
		if !strings.Contains(st.Message(), f) {
			t.Fatalf("%s: message %q does not mention %q", what, st.Message(), f)
		}
	}
}

func TestClientAgainstServer(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	c, err := personae.Dial(ctx, srv.addr, personae.WithAPIKey(srv.token))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// CreateUser: the email becomes the username.
	email := fmt.Sprintf("ada.%d@example.com", time.Now().UnixNano())
	user, err := c.Users.CreateUser(ctx, &personaev1.CreateUserRequest{Email: email, FullName: "Ada Lovelace"})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if user.GetId() == "" || user.GetUsername() != email || user.GetFullName() != "Ada Lovelace" {
		t.Fatalf("CreateUser returned %v", user)
	}

	// GetUser by username.
	got, err := c.Users.GetUser(ctx, &personaev1.GetUserRequest{User: &personaev1.GetUserRequest_Username{Username: email}})
	if err != nil {
		t.Fatalf("GetUser by username: %v", err)
	}
	if got.GetId() != user.GetId() {
		t.Fatalf("GetUser(%q) = user %s, want %s", email, got.GetId(), user.GetId())
	}

	// CreateGroup and AddMembers.
	group, err := c.Groups.CreateGroup(ctx, &personaev1.CreateGroupRequest{Name: "Analysts", Description: "from the Go client test"})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	group, err = c.Groups.AddMembers(ctx, &personaev1.AddMembersRequest{GroupId: group.GetId(), UserIds: []string{user.GetId()}})
	if err != nil {
		t.Fatalf("AddMembers: %v", err)
	}
	if group.GetMemberCount() != 1 {
		t.Fatalf("after AddMembers the group has %d members, want 1", group.GetMemberCount())
	}

	// GrantPermission, then CheckPermission sees it.
	granted, err := c.Permissions.GrantPermission(ctx, &personaev1.GrantPermissionRequest{UserId: user.GetId(), Permission: "AUDIT"})
	if err != nil {
		t.Fatalf("GrantPermission: %v", err)
	}
	if !slices.Contains(granted.GetPermissions(), "AUDIT") {
		t.Fatalf("after GrantPermission the user holds %v, want AUDIT among them", granted.GetPermissions())
	}
	check, err := c.Permissions.CheckPermission(ctx, &personaev1.CheckPermissionRequest{
		UserId:      user.GetId(),
		Permission:  "AUDIT",
		Consistency: &personaev1.Consistency{Requirement: &personaev1.Consistency_FullyConsistent{FullyConsistent: true}},
	})
	if err != nil {
		t.Fatalf("CheckPermission: %v", err)
	}
	if !check.GetAllowed() {
		t.Fatalf("CheckPermission(%s, AUDIT) = not allowed after GrantPermission", user.GetId())
	}

	// No key: UNAUTHENTICATED.
	anon, err := personae.Dial(ctx, srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	_, err = anon.Users.GetUser(ctx, &personaev1.GetUserRequest{User: &personaev1.GetUserRequest_Id{Id: user.GetId()}})
	wantCode(t, "GetUser without an API key", err, codes.Unauthenticated)

	// A bad email: INVALID_ARGUMENT naming the field.
	_, err = c.Users.CreateUser(ctx, &personaev1.CreateUserRequest{Email: "not-an-email", FullName: "Nobody"})
	wantCode(t, "CreateUser with a bad email", err, codes.InvalidArgument, "email")
}

func TestDialRejectsEmptyAddress(t *testing.T) {
	if _, err := personae.Dial(context.Background(), ""); err == nil {
		t.Fatal("Dial with an empty address succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := personae.Dial(ctx, "127.0.0.1:1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial with a cancelled context: %v, want context.Canceled", err)
	}
}
