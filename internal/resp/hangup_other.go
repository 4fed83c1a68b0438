//go:build !linux

package resp

import "context"

// WatchHangup is a no-op off Linux: a blocked client that hangs up is noticed when its
// blocking command ends (timeout or served), and the reply then finds no reader.
func WatchHangup(ctx context.Context) (stop func()) { return func() {} }
