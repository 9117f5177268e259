package guard

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// waitingAtHooks are the instances held at a lifecycle hook that done
// does not complete.
func waitingAtHooks(ins []Instance, done []Completion) []Instance {
	var out []Instance
	for _, in := range ins {
		if in.State != PendingWait && in.State != TerminatingWait {
			continue
		}
		if slices.ContainsFunc(done, func(c Completion) bool { return c.Instance.ID == in.ID }) {
			continue
		}
		out = append(out, in)
	}
	return out
}

// heartbeat records one heartbeat for each instance; it returns how many
// were recorded and the failures.
func heartbeat(ctx context.Context, asg ASGAPI, ins []Instance) (int, []error) {
	n := 0
	var errs []error
	for _, in := range ins {
		if err := asg.RecordHeartbeat(ctx, in); err != nil {
			errs = append(errs, fmt.Errorf("heartbeat %s: %w", in.ID, err))
			continue
		}
		n++
	}
	return n, errs
}

// keepAlive records a heartbeat for each instance at once and then every
// `every` (default a minute) until stop, which returns how many it
// recorded: a membership change, or a backup, may take as long as the
// Lambda's whole timeout, longer than a hook's. A failed heartbeat is
// logged: the hook may have ended meanwhile.
func keepAlive(ctx context.Context, asg ASGAPI, ins []Instance, every time.Duration, logf func(format string, args ...any)) (stop func() int) {
	if every == 0 {
		every = time.Minute
	}
	if len(ins) == 0 {
		return func() int { return 0 }
	}
	// One round at once: a change that fails fast (a snapshot refused, a
	// leave etcd rejects) returns before the first tick, and its hooks
	// must still be extended, the changing node's own included, or the
	// next failing run lets a default end a voter.
	beat := func() int {
		n, errs := heartbeat(ctx, asg, ins)
		for _, err := range errs {
			logf("keeping the hooks held: %v", err)
		}
		return n
	}
	first := beat()
	done := make(chan struct{})
	count := make(chan int, 1)
	go func() {
		n := first
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				count <- n
				return
			case <-ctx.Done():
				<-done
				count <- n
				return
			case <-t.C:
				n += beat()
			}
		}
	}()
	return func() int {
		close(done)
		return <-count
	}
}
