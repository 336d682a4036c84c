package pebblestore

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// TestConcurrentAppendsWALSyncFailure makes every WAL fsync fail while
// writers of one session are in flight: no write may be acknowledged (each
// returns the sync error, none hangs), and the session's cached header must
// be dropped so no later writer builds on it.
func TestConcurrentAppendsWALSyncFailure(t *testing.T) {
	errInjected := errors.New("injected fsync failure")
	var failing atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			if failing.Load() && strings.HasSuffix(op.Path, ".log") {
				return errInjected
			}
		}
		return nil
	})
	st, err := Open(t.TempDir(), Options{Clock: newStepClock(), Logger: quietLogger{}, fs: errorfs.Wrap(vfs.Default, inj)})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, st, "u1")
	if _, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: "before"}, Limits{}); err != nil {
		t.Fatal(err)
	}

	failing.Store(true)
	// Few and small writes: Pebble panics once a broken WAL fills a block.
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			seq, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: fmt.Sprint("w", w)}, Limits{})
			if err == nil {
				err = fmt.Errorf("append acknowledged as seq %d although the WAL sync failed", seq)
			} else if errors.Is(err, errInjected) {
				err = nil
			}
			errs <- err
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	st.mu.Lock()
	e := st.sessions["u1"]
	st.mu.Unlock()
	if e != nil && e.hdr != nil {
		t.Errorf("cached header kept after a failed sync: %+v", e.hdr.Stats)
	}
	// The WAL is broken for good, so Close may report it; it must not hang.
	_ = st.Close()
}
