// Command ferricd runs one ferricd node: a durable, raft-replicated Redis-protocol server.
//
//	ferricd [config-file] [--name value ...]
//
// This file only wires the parts together (config → Pebble → shards → RESP listener →
// metrics) and owns the process lifecycle: SIGINT/SIGTERM stop accepting clients, close
// connections, stop the shards and close the database, in that order.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"ferricd/internal/cluster"
	"ferricd/internal/command"
	"ferricd/internal/config"
	"ferricd/internal/metrics"
	"ferricd/internal/node"
	"ferricd/internal/resp"
	"ferricd/internal/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	params, action, err := config.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "ferricd: %v\n", err)
		return 2
	}
	switch action {
	case config.ShowVersion:
		fmt.Fprintf(stdout, "ferricd v=%s redis-compat=%s\n", version, node.RedisVersion)
		return 0
	case config.ShowHelp:
		fmt.Fprint(stdout, config.Usage("ferricd"))
		return 0
	case config.Check:
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := config.Probe(ctx, params); err != nil {
			fmt.Fprintf(stderr, "ferricd: check failed: %v\n", err)
			return 1
		}
		return 0
	}
	logger, closeLog, err := newLogger(params, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ferricd: %v\n", err)
		return 2
	}
	defer closeLog()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, params, configFile(args), logger); err != nil {
		logger.Error("ferricd stopped", "err", err)
		return 1
	}
	logger.Info("ferricd stopped cleanly")
	return 0
}

// configFile returns the config file named on the command line, if any.
func configFile(args []string) string {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0]
	}
	return ""
}

func newLogger(params *config.Store, stderr io.Writer) (*slog.Logger, func(), error) {
	out, closeFn := stderr, func() {}
	if path := params.LogFile(); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("logfile: %w", err)
		}
		out, closeFn = f, func() { f.Close() }
	}
	h := slog.NewTextHandler(out, &slog.HandlerOptions{Level: params.LogLevelVar()})
	return slog.New(h), closeFn, nil
}

func serve(ctx context.Context, params *config.Store, configPath string, logger *slog.Logger) (err error) {
	if err := os.MkdirAll(params.Dir(), 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	// The WAL sync delay only pays when other writes can join the held-back sync: with fewer
	// than two client writes in flight (one client writing one command at a time), syncs go
	// at once. The node exists only after the store, hence the pointer.
	var running atomic.Pointer[node.Node]
	syncDelay := func() time.Duration {
		if n := running.Load(); n != nil && n.WritesInFlight() < 2 {
			return 0
		}
		return params.WALSyncDelay()
	}
	db, err := store.Open(store.Options{Dir: params.Dir(), Logger: logger, CacheBytes: params.BlockCacheSize(),
		WALSyncDelay: syncDelay})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close pebble: %w", cerr)
		}
	}()

	nodeID, cc, err := clusterConfig(params)
	if err != nil {
		return err
	}
	mopts := metrics.Options{Version: version, Pprof: params.EnablePprof()}
	if v, _ := params.Value("enable-fault-injection"); v == "yes" {
		cc.Faults = &cluster.Faults{}
		mopts.Debug = map[string]http.Handler{"/debug/faults": cc.Faults}
		logger.Warn("fault injection enabled: POST /debug/faults on the metrics port can cut cluster traffic")
	}
	m := metrics.New(mopts)
	table := command.New()
	n, err := node.Open(ctx, node.Config{
		DB:          db,
		Shards:      params.Shards(),
		NodeID:      nodeID,
		Cluster:     cc,
		SnapshotDir: filepath.Join(params.Dir(), "snapshots"),
		Table:       table,
		Params:      params,
		Info:        m,
		Observer:    m,
		Logger:      logger,
		CacheBytes:  params.KeyCacheSize(),
		InfoStatic: node.InfoStatic{
			Version:    version,
			Port:       params.Port(),
			ConfigFile: configPath,
			MaxClients: params.MaxClients,
			MaxMemory:  params.MaxMemory,
		},
	})
	if err != nil {
		return err
	}
	defer n.Close()
	running.Store(n)
	defer running.Store(nil)
	m.SetSources(n.MetricSources())

	srv, err := resp.NewServer(resp.Config{
		Addrs:                  listenAddrs(params),
		Table:                  table,
		Backend:                n,
		Observer:               m,
		Logger:                 logger,
		RequirePass:            params.RequirePass,
		MaxClients:             func() int { return int(params.MaxClients()) },
		ProtoMaxBulkLen:        params.ProtoMaxBulkLen,
		ClientQueryBufferLimit: params.ClientQueryBufferLimit,
		Version:                node.RedisVersion,
		TCPKeepAlive:           keepAlive(params.TCPKeepAlive()),
	})
	if err != nil {
		return err
	}
	errs := make(chan error, 2)
	go func() { errs <- srv.Serve(ctx) }()
	metricsDone := make(chan struct{})
	if port := params.MetricsPort(); port > 0 {
		addr := net.JoinHostPort(metricsHost(params), strconv.Itoa(port))
		go func() {
			defer close(metricsDone)
			if err := m.Serve(ctx, addr); err != nil && !errors.Is(err, context.Canceled) {
				logger.Error("metrics endpoint stopped", "addr", addr, "err", err)
			}
		}()
	} else {
		close(metricsDone)
	}
	logger.Info("ferricd ready", "version", version, "addrs", fmt.Sprint(srv.Addrs()), "dir", params.Dir(),
		"shards", params.Shards(), "metrics-port", params.MetricsPort())

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err = <-errs:
		logger.Error("listener failed", "err", err)
	}
	_ = srv.Close()
	if err == nil {
		err = <-errs
		if errors.Is(err, context.Canceled) {
			err = nil
		}
	}
	<-metricsDone
	return err
}

// clusterConfig reads the cluster options. The bus listens on the first bind address; peers
// and clients are told the cluster-announce-ip, else the host this node has in the peer list,
// else the bind address.
func clusterConfig(params *config.Store) (uint64, *node.ClusterConfig, error) {
	value := func(name string) string { v, _ := params.Value(name); return v }
	id, err := strconv.ParseUint(value("node-id"), 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("node-id: %w", err)
	}
	cc := &node.ClusterConfig{Redirect: value("cluster-redirect") == "yes", Join: value("cluster-join") == "yes"}
	if cc.Join && id == 0 {
		return 0, nil, errors.New("cluster-join needs node-id (an id not used before in the cluster it joins)")
	}
	if cc.Join && value("cluster-peers") != "" {
		return 0, nil, errors.New("cluster-join and cluster-peers exclude each other: cluster-peers bootstraps a new cluster, cluster-join waits to be added to a running one")
	}
	host := metricsHost(params)
	announce := value("cluster-announce-ip")
	if list := value("cluster-peers"); list != "" {
		if id == 0 {
			return 0, nil, errors.New("cluster-peers needs node-id (this node's id in the list)")
		}
		if cc.Peers, err = cluster.ParsePeers(list, id); err != nil {
			return 0, nil, err
		}
		for _, p := range cc.Peers {
			if p.ID == id && announce == "" {
				announce, _, _ = net.SplitHostPort(p.BusAddr)
			}
		}
	}
	if announce == "" {
		announce = host
	}
	busPort, _ := strconv.Atoi(value("cluster-port"))
	if busPort == 0 {
		if busPort = params.Port() + 10000; busPort > 65535 {
			return 0, nil, fmt.Errorf("cluster-port: port %d + 10000 is out of range; set cluster-port", params.Port())
		}
	}
	cc.ListenAddr = net.JoinHostPort(host, strconv.Itoa(busPort))
	cc.ClientAddr = net.JoinHostPort(announce, strconv.Itoa(params.Port()))
	return id, cc, nil
}

// keepAlive maps tcp-keepalive (0: off, as in Redis) onto resp.Config (negative: off).
func keepAlive(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// listenAddrs turns bind/port into listen addresses; optional ones ("-::*") are kept only if
// the address family is available here.
func listenAddrs(params *config.Store) []string {
	var out []string
	for _, l := range params.Listeners() {
		if l.Optional {
			ln, err := net.Listen("tcp", l.Addr)
			if err != nil {
				continue
			}
			ln.Close()
		}
		out = append(out, l.Addr)
	}
	return out
}

// metricsHost serves metrics on the first bind address, so a loopback-only node does not
// expose its metrics to the network either.
func metricsHost(params *config.Store) string {
	if b := params.Bind(); len(b) > 0 {
		h := strings.TrimPrefix(b[0], "-")
		if h == "*" {
			return "0.0.0.0"
		}
		return h
	}
	return "127.0.0.1"
}
