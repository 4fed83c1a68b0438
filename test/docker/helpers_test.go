// Package docker checks the container packaging end to end: the image of deploy/Dockerfile
// (built with `make docker` into a throw-away tag, run with published ports on 127.0.0.1,
// healthcheck, redis-cli, restart on its volume) and the 3-node cluster of
// deploy/docker-compose.yml (a node killed, the others keep serving).
//
// The tests skip, saying why, when there is no usable Docker engine (`docker info` fails) or,
// for the cluster, no `docker compose`/`docker-compose`, or a ferricd without the cluster
// flags. Every external command is bounded by a timeout, and every container, network, volume
// and image a test creates is removed when it ends, also on failure. FERRICD_TEST_IMAGE=name
// tests an existing image instead of building one (it is then left in place).
package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bounds of the slow steps.
const (
	buildTimeout  = 5 * time.Minute  // make docker: go build of ferricd and docker build
	dockerTimeout = 2 * time.Minute  // one docker/compose command (run, stop, up, down, ...)
	cliTimeout    = 10 * time.Second // one redis-cli call
	// cleanupMargin is kept before go test's -timeout: waits give up earlier, so that the test
	// fails with its own message and its cleanups (compose down, docker rm) still run.
	cleanupMargin = 90 * time.Second
)

func TestMain(m *testing.M) {
	code := m.Run()
	removeImage()
	os.Exit(code)
}

// result is what an external command did.
type result struct {
	stdout, stderr string
	code           int // exit code; -1 if it did not run or was killed
}

func (r result) combined() string {
	return strings.TrimSpace(strings.TrimSpace(r.stdout) + "\n" + strings.TrimSpace(r.stderr))
}

// run runs name with args, killing it (and its children) after timeout. env is added to the
// test's environment. err is nil only for exit code 0.
func run(timeout time.Duration, env []string, name string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), code: -1}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	line := name + " " + strings.Join(args, " ")
	switch {
	case ctx.Err() != nil:
		return r, fmt.Errorf("%s: no result within %v\n%s", line, timeout, r.combined())
	case err != nil:
		return r, fmt.Errorf("%s: %w\n%s", line, err, r.combined())
	}
	return r, nil
}

// dockerOut runs a docker command that must succeed and returns its trimmed standard output.
func dockerOut(t testing.TB, args ...string) string {
	t.Helper()
	r, err := run(dockerTimeout, nil, "docker", args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(r.stdout)
}

var (
	dockerOnce sync.Once
	dockerWhy  string // why Docker is not usable; "" if it is
)

// requireDocker skips the test unless a Docker engine answers.
func requireDocker(t testing.TB) {
	t.Helper()
	dockerOnce.Do(func() {
		if _, err := exec.LookPath("docker"); err != nil {
			dockerWhy = "the docker command is not installed"
			return
		}
		r, err := run(30*time.Second, nil, "docker", "info", "--format", "{{.ServerVersion}}")
		if err != nil {
			dockerWhy = "`docker info` failed, no usable Docker engine: " + firstLine(r.combined())
		}
	})
	if dockerWhy != "" {
		t.Skip(dockerWhy + "; Docker tests skipped")
	}
}

var (
	imageOnce  sync.Once
	imageName  string
	imageBuilt bool // built here: removed by TestMain
	imageErr   error
	imageTmp   string
)

// image returns the image under test, building it with `make docker` the first time.
func image(t testing.TB) string {
	t.Helper()
	imageOnce.Do(func() {
		if name := os.Getenv("FERRICD_TEST_IMAGE"); name != "" {
			imageName = name
			return
		}
		root, err := moduleRoot()
		if err != nil {
			imageErr = err
			return
		}
		if imageTmp, err = os.MkdirTemp("", "ferricd-docker-test-"); err != nil {
			imageErr = err
			return
		}
		// The binary and the build context go to a temp dir, so the test leaves nothing in the
		// work tree and does not race with a `make docker` of the user's.
		name := "ferricd:test-" + randHex(6)
		_, err = run(buildTimeout, nil, "make", "-C", root, "docker", "IMAGE="+name,
			"BIN="+filepath.Join(imageTmp, "ferricd"), "DOCKER_CTX="+filepath.Join(imageTmp, "context"))
		if err != nil {
			imageErr = fmt.Errorf("make docker: %v", err)
			return
		}
		imageName, imageBuilt = name, true
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return imageName
}

func removeImage() {
	if imageBuilt {
		if _, err := run(dockerTimeout, nil, "docker", "rmi", "-f", imageName); err != nil {
			fmt.Fprintf(os.Stderr, "remove test image: %v\n", err)
		}
	}
	if imageTmp != "" {
		os.RemoveAll(imageTmp)
	}
}

// moduleRoot is the directory of go.mod (the test runs in test/docker).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// hostPort parses docker's "127.0.0.1:32768" (from `docker port` or `compose port`) and checks
// the port is published on loopback only.
func hostPort(t testing.TB, out string) int {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		host, port, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		if host != "127.0.0.1" {
			t.Fatalf("port published on %q, want 127.0.0.1 only:\n%s", host, out)
		}
		p, err := strconv.Atoi(port)
		if err == nil && p > 0 {
			return p
		}
	}
	t.Fatalf("no published port in %q", out)
	return 0
}

var (
	cliOnce sync.Once
	cliPath string
)

// cli sends one command to 127.0.0.1:port with redis-cli and returns its output, as redis-cli
// prints it when not on a terminal (PONG, OK, the value, "" for nil, the error text). Without
// redis-cli (it is part of redis-tools) go-redis sends it and the reply is printed alike.
func cli(t testing.TB, port int, args ...string) (string, error) {
	t.Helper()
	cliOnce.Do(func() {
		cliPath, _ = exec.LookPath("redis-cli")
		if cliPath == "" {
			t.Log("redis-cli not installed (apt-get install redis-tools): commands go through go-redis")
		}
	})
	if cliPath != "" {
		r, err := run(cliTimeout, nil, cliPath, append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(r.stdout), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1, DialTimeout: 2 * time.Second})
	defer c.Close()
	argv := make([]any, len(args))
	for i, a := range args {
		argv[i] = a
	}
	v, err := c.Do(ctx, argv...).Result()
	var reply redis.Error
	switch {
	case errors.Is(err, redis.Nil):
		return "", nil
	case errors.As(err, &reply):
		return reply.Error(), nil // a server error reply, printed as redis-cli prints it
	case err != nil:
		return "", err
	}
	return fmt.Sprint(v), nil
}

// expect runs a command through cli and checks its output.
func expect(t testing.TB, port int, want string, args ...string) error {
	t.Helper()
	got, err := cli(t, port, args...)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s on port %d = %q, want %q", strings.Join(args, " "), port, got, want)
	}
	return nil
}

// eventually retries fn every 250 ms until it succeeds or timeout passes, then fails the test
// with fn's last error.
func eventually(t *testing.T, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := deadlineIn(t, timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not done after %v: %v", what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// deadlineIn is now+timeout, or earlier if go test's -timeout would strike before the cleanups.
func deadlineIn(t *testing.T, timeout time.Duration) time.Time {
	deadline := time.Now().Add(timeout)
	if d, ok := t.Deadline(); ok && d.Add(-cleanupMargin).Before(deadline) {
		deadline = d.Add(-cleanupMargin)
	}
	return deadline
}
