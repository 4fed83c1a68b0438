package docker

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestComposeCluster starts deploy/docker-compose.yml under a unique project name (its own
// network and volumes, host ports picked by Docker), waits until a write through node 1
// succeeds, kills node 1's container, and checks that nodes 2 and 3 still serve what was written
// before and take new writes. `down -v` removes everything at the end, also on failure.
func TestComposeCluster(t *testing.T) {
	requireDocker(t)
	compose := composeCommand(t)
	img := image(t)
	requireClusterFlags(t, img)

	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	project := "ferricdtest" + randHex(4)
	// Empty FERRICDn_PORT: Docker picks a free host port (still on 127.0.0.1).
	env := []string{"FERRICD_IMAGE=" + img, "FERRICD1_PORT=", "FERRICD2_PORT=", "FERRICD3_PORT="}
	base := slices.Concat(compose[1:], []string{"-f", filepath.Join(root, "deploy", "docker-compose.yml"), "-p", project})
	composeRun := func(args ...string) (result, error) {
		return run(3*time.Minute, env, compose[0], slices.Concat(base, args)...)
	}
	t.Cleanup(func() {
		if t.Failed() {
			r, _ := composeRun("logs", "--no-color", "--tail", "40")
			t.Logf("compose logs (last 40 lines per node):\n%s", r.combined())
		}
		if _, err := composeRun("down", "-v", "--remove-orphans", "-t", "10"); err != nil {
			t.Errorf("compose down: %v", err)
		}
	})
	if _, err := composeRun("up", "-d"); err != nil {
		t.Fatal(err)
	}

	ports := map[string]int{}
	for _, svc := range []string{"ferricd1", "ferricd2", "ferricd3"} {
		r, err := composeRun("port", svc, "6379")
		if err != nil {
			t.Fatal(err)
		}
		ports[svc] = hostPort(t, r.stdout)
	}
	t.Logf("project %s: client ports %v", project, ports)

	// The nodes find each other and elect leaders; the first write through node 1 that
	// succeeds says the cluster is up.
	eventually(t, 90*time.Second, "first write through node 1", func() error {
		return expect(t, ports["ferricd1"], "OK", "set", "cluster:up", "yes")
	})
	const n = 20 // keys spread over slots, hence over shards and their leaders
	for i := range n {
		if err := expect(t, ports["ferricd1"], "OK", "set", fmt.Sprintf("before:%d", i), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, svc := range []string{"ferricd2", "ferricd3"} {
		eventually(t, 30*time.Second, "reads through "+svc, func() error {
			return readAll(t, ports[svc], "before", n)
		})
	}

	id, err := composeRun("ps", "-q", "ferricd1")
	if err != nil || strings.TrimSpace(id.stdout) == "" {
		t.Fatalf("container of ferricd1: %v %q", err, id.stdout)
	}
	dockerOut(t, "kill", strings.TrimSpace(id.stdout))
	t.Log("killed ferricd1")

	// Two of three nodes keep a quorum for every shard: after the elections that node 1's
	// leaderships need, writes through either survivor are read back through the other.
	for i, pair := range [][2]string{{"ferricd2", "ferricd3"}, {"ferricd3", "ferricd2"}} {
		prefix := fmt.Sprintf("after%d", i)
		eventually(t, 60*time.Second, "writes through "+pair[0]+" after the kill", func() error {
			for k := range n {
				if err := expect(t, ports[pair[0]], "OK", "set", fmt.Sprintf("%s:%d", prefix, k), fmt.Sprint(k)); err != nil {
					return err
				}
			}
			return nil
		})
		eventually(t, 30*time.Second, "reads through "+pair[1]+" after the kill", func() error {
			if err := readAll(t, ports[pair[1]], prefix, n); err != nil {
				return err
			}
			return readAll(t, ports[pair[1]], "before", n)
		})
	}
}

// readAll checks that prefix:0 .. prefix:n-1 hold 0 .. n-1 through port.
func readAll(t testing.TB, port int, prefix string, n int) error {
	for i := range n {
		if err := expect(t, port, fmt.Sprint(i), "get", fmt.Sprintf("%s:%d", prefix, i)); err != nil {
			return err
		}
	}
	return nil
}

// composeCommand returns the compose command line ("docker compose" or "docker-compose"), or
// skips the test if there is neither.
func composeCommand(t testing.TB) []string {
	t.Helper()
	if _, err := run(30*time.Second, nil, "docker", "compose", "version"); err == nil {
		return []string{"docker", "compose"}
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		if _, err := run(30*time.Second, nil, "docker-compose", "version"); err == nil {
			return []string{"docker-compose"}
		}
	}
	t.Skip("neither `docker compose` (plugin) nor docker-compose is installed: compose cluster test skipped")
	return nil
}

// requireClusterFlags skips the test if the image's ferricd does not know the cluster options
// that deploy/docker-compose.yml passes. The probe is `ferricd <cluster options> --check` in a
// container without network: the options are parsed first (an unknown one exits 2 with
// "unknown parameter"); once they are known, the PING of the check fails (exit 1), and nothing
// is started.
func requireClusterFlags(t testing.TB, img string) {
	t.Helper()
	name := "ferricd-probe-" + randHex(4)
	t.Cleanup(func() { _, _ = run(dockerTimeout, nil, "docker", "rm", "-f", name) })
	r, err := run(dockerTimeout, nil, "docker", "run", "--rm", "--name", name, "--network", "none", img,
		"--port", "6379", "--cluster-port", "16379", "--node-id", "1",
		"--cluster-peers", "1@127.0.0.1:16379,2@127.0.0.2:16379,3@127.0.0.3:16379",
		"--cluster-redirect", "no", "--check")
	out := r.combined()
	switch {
	case err == nil || r.code == 1 && strings.Contains(out, "check failed"):
		return // the options parse
	case r.code == 2 && strings.Contains(out, "unknown parameter"):
		t.Skipf("this ferricd does not implement the cluster options yet (%s): compose cluster test skipped", firstLine(out))
	case r.code == 2:
		t.Fatalf("ferricd refuses the cluster options of deploy/docker-compose.yml: %s", out)
	}
	t.Fatalf("cluster options probe: %v", err)
}
