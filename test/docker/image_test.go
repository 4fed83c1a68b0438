package docker

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// maxImageBytes catches a build context that leaks into the image: ferricd alone is ~26 MB.
const maxImageBytes = 64 << 20

// TestImage runs the image as a user would: published ports on 127.0.0.1 (Docker picks free
// host ports), a read-only root filesystem (ferricd must write nothing but /data), the image's
// own HEALTHCHECK (probed every second here), redis-cli, then a clean stop and a restart on the
// same volume.
func TestImage(t *testing.T) {
	requireDocker(t)
	img := image(t)

	var cfg struct {
		User         string
		ExposedPorts map[string]struct{}
		Volumes      map[string]struct{}
		Entrypoint   []string
		Cmd          []string
		Healthcheck  *struct{ Test []string }
	}
	if err := json.Unmarshal([]byte(dockerOut(t, "image", "inspect", "-f", "{{json .Config}}", img)), &cfg); err != nil {
		t.Fatalf("image config: %v", err)
	}
	if cfg.User != "10001:10001" {
		t.Errorf("image user = %q, want 10001:10001", cfg.User)
	}
	for _, p := range []string{"6379/tcp", "16379/tcp", "9121/tcp"} {
		if _, ok := cfg.ExposedPorts[p]; !ok {
			t.Errorf("port %s not exposed (exposed: %v)", p, cfg.ExposedPorts)
		}
	}
	if _, ok := cfg.Volumes["/data"]; !ok {
		t.Errorf("no /data volume (volumes: %v)", cfg.Volumes)
	}
	if hc := cfg.Healthcheck; hc == nil || len(hc.Test) < 3 || hc.Test[0] != "CMD" || hc.Test[1] != "/ferricd" || !slices.Contains(hc.Test, "--check") {
		t.Errorf("healthcheck = %+v, want exec form [CMD /ferricd --check ...]", cfg.Healthcheck)
	}
	if want := []string{"--bind", "0.0.0.0", "--dir", "/data"}; !slices.Equal(cfg.Cmd, want) || !slices.Equal(cfg.Entrypoint, []string{"/ferricd"}) {
		t.Errorf("entrypoint %q cmd %q, want [/ferricd] %q", cfg.Entrypoint, cfg.Cmd, want)
	}
	size, _ := strconv.ParseInt(dockerOut(t, "image", "inspect", "-f", "{{.Size}}", img), 10, 64)
	t.Logf("image %s: %.1f MB", img, float64(size)/1e6)
	if size > maxImageBytes {
		t.Errorf("image is %d bytes, more than %d: does the build context leak into it?", size, maxImageBytes)
	}

	name := "ferricd-test-" + randHex(4)
	t.Cleanup(func() {
		if t.Failed() {
			r, _ := run(dockerTimeout, nil, "docker", "logs", "--tail", "50", name)
			t.Logf("docker logs %s (last 50 lines):\n%s", name, r.combined())
		}
		// -v: the anonymous volume of /data goes too.
		if _, err := run(dockerTimeout, nil, "docker", "rm", "-f", "-v", name); err != nil {
			t.Errorf("remove container: %v", err)
		}
	})
	dockerOut(t, "run", "-d", "--name", name, "--read-only", "--health-interval", "1s",
		"-p", "127.0.0.1::6379", "-p", "127.0.0.1::9121", img)

	waitHealthy(t, name, 60*time.Second)
	port := hostPort(t, dockerOut(t, "port", name, "6379/tcp"))
	metricsPort := hostPort(t, dockerOut(t, "port", name, "9121/tcp"))

	must := func(want string, args ...string) {
		t.Helper()
		if err := expect(t, port, want, args...); err != nil {
			t.Fatal(err)
		}
	}
	must("PONG", "ping")
	must("OK", "set", "greeting", "hello from docker")
	must("hello from docker", "get", "greeting")

	// The metrics endpoint listens on the first bind address (0.0.0.0 in the image).
	eventually(t, 30*time.Second, "GET /readyz", func() error {
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", metricsPort))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	})

	// docker stop sends SIGTERM to PID 1, which is ferricd: it must shut down cleanly (exit 0)
	// within the grace period, and the data must survive in the volume.
	dockerOut(t, "stop", "-t", "20", name)
	if code := dockerOut(t, "inspect", "-f", "{{.State.ExitCode}}", name); code != "0" {
		t.Fatalf("exit code after docker stop = %s, want 0 (clean shutdown on SIGTERM)", code)
	}
	dockerOut(t, "start", name)
	waitHealthy(t, name, 60*time.Second)
	port = hostPort(t, dockerOut(t, "port", name, "6379/tcp")) // a new one after the restart
	must("hello from docker", "get", "greeting")
}

// waitHealthy waits until the container's healthcheck reports healthy; it fails at once if the
// container stops or turns unhealthy.
func waitHealthy(t *testing.T, name string, timeout time.Duration) {
	t.Helper()
	deadline := deadlineIn(t, timeout)
	for {
		state := dockerOut(t, "inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", name)
		status, health, _ := strings.Cut(state, " ")
		switch {
		case health == "healthy":
			return
		case status != "running":
			t.Fatalf("container %s is %s (health %s), not running", name, status, health)
		case health == "unhealthy":
			t.Fatalf("container %s is unhealthy: %s", name, dockerOut(t, "inspect", "-f", "{{json .State.Health.Log}}", name))
		case health == "none":
			t.Fatalf("container %s has no healthcheck", name)
		case time.Now().After(deadline):
			t.Fatalf("container %s not healthy after %v (health %s): %s", name, timeout, health,
				dockerOut(t, "inspect", "-f", "{{json .State.Health.Log}}", name))
		}
		time.Sleep(250 * time.Millisecond)
	}
}
