// Package testserver starts real server processes for integration tests: the ferricd binary
// built from this module, and the reference redis-server. Every process listens on 127.0.0.1
// only, on a free port, with its data in the test's temp dir, and is killed when the test ends.
package testserver

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary builds bin/ferricd for this test process (once; the go build cache makes repeats
// cheap) and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "ferricd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "ferricd")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/ferricd")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/ferricd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the ferricd module")
	}
	return filepath.Dir(mod), nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Process is a running server.
type Process struct {
	t    testing.TB
	Name string
	Port int
	// MetricsPort serves /metrics (and /debug/faults with --enable-fault-injection); 0: off.
	MetricsPort int
	BusPort     int // the cluster bus port of a cluster member, 0 otherwise
	Dir         string
	bin         string
	args        []string
	cmd         *exec.Cmd
	out         *syncWriter
	done        chan struct{}
}

// Addr is the client address.
func (p *Process) Addr() string { return "127.0.0.1:" + strconv.Itoa(p.Port) }

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output returns what the process printed so far.
func (p *Process) Output() string {
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	return p.out.w.String()
}

// StartFerricd starts a ferricd node on a free port with its data in a fresh temp dir; extra
// args are appended (e.g. "--shards", "4").
func StartFerricd(t testing.TB, extra ...string) *Process {
	t.Helper()
	port := FreePort(t)
	dir := t.TempDir()
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", filepath.Join(dir, "data"), "--metrics-port", "0"}
	p := &Process{t: t, Name: "ferricd", Port: port, Dir: dir, bin: Binary(t), args: append(args, extra...)}
	p.start()
	return p
}

// StartRedis starts the reference redis-server (skipping the test if it is not installed).
func StartRedis(t testing.TB, extra ...string) *Process {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed (apt-get install redis-server): differential test skipped")
	}
	port := FreePort(t)
	dir := t.TempDir()
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no"}
	p := &Process{t: t, Name: "redis-server", Port: port, Dir: dir, bin: bin, args: append(args, extra...)}
	p.start()
	return p
}

func (p *Process) start() {
	p.t.Helper()
	if p.out == nil {
		p.out = &syncWriter{w: &bytes.Buffer{}}
	}
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.cmd.Stdout
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.Name, err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(p.cmd, p.done)
	p.t.Cleanup(p.Kill)
	p.WaitReady(15 * time.Second)
}

// WaitReady waits until the server answers PING.
func (p *Process) WaitReady(timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			p.t.Fatalf("%s exited during start-up:\n%s", p.Name, p.Output())
		default:
		}
		if Ping(p.Addr(), 500*time.Millisecond) == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("%s on %s not ready after %v:\n%s", p.Name, p.Addr(), timeout, p.Output())
}

// Ping sends a RESP PING and expects +PONG.
func Ping(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(buf[:n], []byte("+PONG")) {
		return fmt.Errorf("PING answered %q", buf[:n])
	}
	return nil
}

// Kill sends SIGKILL and waits for the process to exit. Safe to call twice.
func (p *Process) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		// Already reaped: its pid (and process group id) may now be another process's,
		// a server started since (pid_max is often 32768, so pids wrap within a test run).
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout for a clean exit; it reports the exit error.
func (p *Process) Stop(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exitErr()
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s did not exit within %v of SIGTERM", p.Name, timeout)
	}
}

func (p *Process) exitErr() error {
	if p.cmd.ProcessState != nil && !p.cmd.ProcessState.Success() {
		return fmt.Errorf("%s exited: %s", p.Name, p.cmd.ProcessState)
	}
	return nil
}

// Restart starts the same binary again with the same arguments and data dir.
func (p *Process) Restart() {
	p.t.Helper()
	p.start()
}

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// RunCLI runs redis-cli against the process with args and returns its output.
func (p *Process) RunCLI(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "redis-cli", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(p.Port)}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// StartCluster starts n ferricd nodes on loopback that form one cluster (node ids 1..n, bus
// ports chosen free), each with its data in a fresh temp dir; extra args go to every node.
// It returns once every node answers PING (shards may still be electing leaders).
func StartCluster(t testing.TB, n int, extra ...string) []*Process {
	t.Helper()
	ports, busPorts := make([]int, n), make([]int, n)
	peers := make([]string, n)
	for i := range n {
		ports[i], busPorts[i] = FreePort(t), FreePort(t)
		peers[i] = fmt.Sprintf("%d@127.0.0.1:%d", i+1, busPorts[i])
	}
	nodes := make([]*Process, n)
	for i := range n {
		dir := t.TempDir()
		metricsPort := FreePort(t)
		args := []string{"--port", strconv.Itoa(ports[i]), "--bind", "127.0.0.1", "--dir", filepath.Join(dir, "data"),
			"--metrics-port", strconv.Itoa(metricsPort), "--node-id", strconv.Itoa(i + 1),
			"--cluster-port", strconv.Itoa(busPorts[i]), "--cluster-peers", strings.Join(peers, ",")}
		nodes[i] = &Process{t: t, Name: fmt.Sprintf("ferricd-node%d", i+1), Port: ports[i], MetricsPort: metricsPort,
			BusPort: busPorts[i], Dir: dir, bin: Binary(t), args: append(args, extra...)}
	}
	for _, p := range nodes {
		p.start()
	}
	return nodes
}

// StartJoiner starts a ferricd node with node id `id` that waits to be added to a running
// cluster by CLUSTER MEET (cluster-join); BusPort says where to meet it.
func StartJoiner(t testing.TB, id int, extra ...string) *Process {
	t.Helper()
	dir := t.TempDir()
	port, busPort, metricsPort := FreePort(t), FreePort(t), FreePort(t)
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", filepath.Join(dir, "data"),
		"--metrics-port", strconv.Itoa(metricsPort), "--node-id", strconv.Itoa(id),
		"--cluster-port", strconv.Itoa(busPort), "--cluster-join", "yes"}
	p := &Process{t: t, Name: fmt.Sprintf("ferricd-node%d", id), Port: port, MetricsPort: metricsPort, BusPort: busPort,
		Dir: dir, bin: Binary(t), args: append(args, extra...)}
	p.start()
	return p
}

// RunToExit runs the binary again with the same arguments and data dir and waits for it to
// exit (ctx bounds it): for checking that a start is refused. It returns the output.
func (p *Process) RunToExit(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, p.bin, p.args...).CombinedOutput()
	return string(out), err
}
