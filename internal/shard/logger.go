package shard

import (
	"context"
	"fmt"
	"log/slog"
)

// raftLogger adapts slog to raft.Logger. Messages are formatted only when their level is
// enabled: raft logs on hot paths at debug level.
type raftLogger struct{ l *slog.Logger }

func (r raftLogger) emit(level slog.Level, msg func() string) {
	if r.l.Enabled(context.Background(), level) {
		r.l.Log(context.Background(), level, msg(), "component", "raft")
	}
}

func (r raftLogger) Debug(v ...any) {
	r.emit(slog.LevelDebug, func() string { return fmt.Sprint(v...) })
}
func (r raftLogger) Debugf(format string, v ...any) {
	r.emit(slog.LevelDebug, func() string { return fmt.Sprintf(format, v...) })
}
func (r raftLogger) Info(v ...any) { r.emit(slog.LevelInfo, func() string { return fmt.Sprint(v...) }) }
func (r raftLogger) Infof(format string, v ...any) {
	r.emit(slog.LevelInfo, func() string { return fmt.Sprintf(format, v...) })
}
func (r raftLogger) Warning(v ...any) {
	r.emit(slog.LevelWarn, func() string { return fmt.Sprint(v...) })
}
func (r raftLogger) Warningf(format string, v ...any) {
	r.emit(slog.LevelWarn, func() string { return fmt.Sprintf(format, v...) })
}
func (r raftLogger) Error(v ...any) {
	r.emit(slog.LevelError, func() string { return fmt.Sprint(v...) })
}
func (r raftLogger) Errorf(format string, v ...any) {
	r.emit(slog.LevelError, func() string { return fmt.Sprintf(format, v...) })
}

// Fatal and Panic must not return: raft calls them on invariant violations. Panicking (rather
// than os.Exit) lets deferred cleanup and tests see the failure.
func (r raftLogger) Fatal(v ...any) { r.die(fmt.Sprint(v...)) }
func (r raftLogger) Fatalf(format string, v ...any) {
	r.die(fmt.Sprintf(format, v...))
}
func (r raftLogger) Panic(v ...any) { r.die(fmt.Sprint(v...)) }
func (r raftLogger) Panicf(format string, v ...any) {
	r.die(fmt.Sprintf(format, v...))
}

func (r raftLogger) die(msg string) {
	r.l.Error(msg, "component", "raft")
	panic("raft: " + msg)
}
