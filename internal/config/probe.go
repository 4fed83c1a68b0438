package config

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// probeTimeout bounds a probe whose context has no deadline: a health check must not hang.
const probeTimeout = 3 * time.Second

// Probe is `ferricd --check`: it connects to the node the Store describes, AUTHs if requirepass
// is set, and PINGs. nil means the node answered PONG; the caller exits 0 or 1 (a Docker
// HEALTHCHECK). Wildcard bind addresses are probed through loopback; every listener is tried in
// turn and the first PONG wins.
func Probe(ctx context.Context, s *Store) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, probeTimeout)
		defer cancel()
	}
	var errs []error
	for _, l := range s.Listeners() {
		addr := probeAddr(l.Addr)
		err := ping(ctx, addr, s.RequirePass())
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	if len(errs) == 0 {
		return errors.New("no address to probe (bind is empty)")
	}
	return errors.Join(errs...)
}

// probeAddr replaces a wildcard host by the loopback address of the same family.
func probeAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "0.0.0.0", "":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

func ping(ctx context.Context, addr, password string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return err
		}
	}
	// The deadline bounds every read and write; closing the connection when ctx is cancelled
	// early ends them sooner.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	r := bufio.NewReader(conn)
	if password != "" {
		if err := roundTrip(conn, r, "+OK", "AUTH", password); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	return roundTrip(conn, r, "+PONG", "PING")
}

// roundTrip sends one command as a RESP array and expects the simple-string reply want.
func roundTrip(conn net.Conn, r *bufio.Reader, want string, args ...string) error {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if got := strings.TrimRight(line, "\r\n"); got != want {
		return fmt.Errorf("unexpected reply %q", got)
	}
	return nil
}
