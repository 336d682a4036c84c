package testenv

import (
	"testing"
	"time"
)

// PollInterval is how often Eventually asks again.
const PollInterval = 25 * time.Millisecond

// Eventually polls cond until it returns "" (done) or timeout passes, then
// fails the test naming what it waited for and what cond last said was
// still different. cond should name the field that differs, e.g.
// "status.phase is Active, want Suspended".
//
// It waits for something to happen; it cannot show that something does not
// happen. For that, step a fake clock and look, or compare resourceVersions.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		last := cond()
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, last)
		}
		time.Sleep(PollInterval)
	}
}
