// Package storetest is the contract suite every store.Store backend
// passes: behaviour, concurrency, limits, erase, import and export, search,
// and the fuzz bodies for imports and context values. It holds no backend:
// internal/store/backend runs it against each one (see Backend).
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Backend is one kind of store under test.
type Backend struct {
	// Name names the backend in test names ("pebble", "postgres").
	Name string
	// New makes an empty place for a store (a folder, a database), removed
	// when the test ends, and returns what opens stores on it.
	New func(t testing.TB) Opener
	// Shared says several stores may be open on one place at once, as
	// replicas share one database.
	Shared bool
}

// Opener opens a store on one place with clk (nil: the real clock). The
// store is closed when the test ends if the test has not closed it.
type Opener func(t testing.TB, clk clock.PassiveClock) store.Store

// Digester is what the suite needs besides store.Store: a digest of the
// whole store's contents, equal exactly when the contents are, to show
// that a refused write changed nothing. Both backends have it.
type Digester interface {
	Digest(ctx context.Context) (string, error)
}

// Package-local names for the contract's types, so the tests read as the
// store's own.
type (
	Header       = store.Header
	Stats        = store.Stats
	SessionRef   = store.SessionRef
	Limits       = store.Limits
	Message      = store.Message
	Discovery    = store.Discovery
	ContextEntry = store.ContextEntry
	Hit          = store.Hit
	Kind         = store.Kind
	LimitError   = store.LimitError
)

var (
	bg = context.Background()
	t0 = time.Date(2025, 9, 2, 10, 0, 0, 0, time.UTC)
)

// StepClock returns t0, t0+step, t0+2*step, ... so every record of a
// sequential test gets a distinct, predictable timestamp.
type StepClock struct {
	mu   sync.Mutex
	next time.Time
	step time.Duration
}

// NewStepClock starts at 2025-09-02T10:00:00Z and steps a second per read.
func NewStepClock() *StepClock { return &StepClock{next: t0, step: time.Second} }

// Now returns the next time.
func (c *StepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.next
	c.next = c.next.Add(c.step)
	return t
}

// Since is Now minus t.
func (c *StepClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// open opens a fresh store of the backend with a step clock.
func open(t testing.TB, b Backend) store.Store {
	t.Helper()
	return b.New(t)(t, NewStepClock())
}

func mustCreate(t testing.TB, st store.Store, uid string) Header {
	t.Helper()
	h, err := st.Create(bg, SessionRef{UID: uid, Namespace: "team-a", Name: "session-" + uid, Project: "E-Commerce API"})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// digest is the store's content digest (see Digester).
func digest(t testing.TB, st store.Store) string {
	t.Helper()
	d, ok := st.(Digester)
	if !ok {
		t.Fatalf("%T has no Digest", st)
	}
	s, err := d.Digest(bg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// emptyDigest is the digest of a store of the backend with nothing in it.
func emptyDigest(t testing.TB, b Backend) string {
	t.Helper()
	st := open(t, b)
	d := digest(t, st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return d
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

// invalidInput reports whether err refuses bad input: the store's own rules
// (ErrInvalid) or the document format's (document.ErrInvalid).
func invalidInput(err error) bool {
	return errors.Is(err, store.ErrInvalid) || errors.Is(err, document.ErrInvalid)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testdata is internal/document/testdata, found from this file.
func testdata(t testing.TB, name string) []byte {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "document", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Tutorial is the tutorial's memory-leak session document.
func Tutorial(t testing.TB) *document.Document {
	t.Helper()
	return mustParse(t, testdata(t, "tutorial-memory-leak.json"))
}

func mustParse(t testing.TB, data []byte) *document.Document {
	t.Helper()
	d, err := document.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Run runs the whole contract against b, one subtest per behaviour.
func Run(t *testing.T, b Backend) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"CreateGetStats", testCreateGetStats},
		{"CreateExisting", testCreateExisting},
		{"CreateInvalidRef", testCreateInvalidRef},
		{"MissingSession", testMissingSession},
		{"ReopenKeepsDataAndSequence", testReopenKeepsDataAndSequence},
		{"ClosedStore", testClosedStore},
		{"CancelledContext", testCancelledContext},
		{"RealClockDefault", testRealClockDefault},
		{"Sessions", testSessions},
		{"ContextRoundTrip", testContextRoundTrip},
		{"ContextInvalidInput", testContextInvalidInput},
		{"ContextLimitsRefuseAndChangeNothing", testContextLimitsRefuseAndChangeNothing},
		{"ContextValueKinds", testContextValueKinds},
		{"AppendAndHistory", testAppendAndHistory},
		{"MessageMetadataRoundTrip", testMessageMetadataRoundTrip},
		{"AppendMessageInvalid", testAppendMessageInvalid},
		{"MaxMessagesRefusesAndChangesNothing", testMaxMessagesRefusesAndChangesNothing},
		{"MessageContentBoundByMaxValueBytes", testMessageContentBoundByMaxValueBytes},
		{"ConcurrentAppendsOneSession", testConcurrentAppendsOneSession},
		{"ConcurrentStoresOneSession", testConcurrentStoresOneSession},
		{"ConcurrentAppendsAtTheLimit", testConcurrentAppendsAtTheLimit},
		{"Discoveries", testDiscoveries},
		{"DiscoveryInvalid", testDiscoveryInvalid},
		{"EveryWritePathEnforcesEveryLimit", testEveryWritePathEnforcesEveryLimit},
		{"ImportLimitNamesTheRecord", testImportLimitNamesTheRecord},
		{"EraseLeavesNoRecords", testEraseLeavesNoRecords},
		{"ImportTutorialDocument", testImportTutorialDocument},
		{"ExportImportReproducesSession", testExportImportReproducesSession},
		{"ImportExistingAndReplace", testImportExistingAndReplace},
		{"ImportInvalidLeavesStoreUnchanged", testImportInvalidLeavesStoreUnchanged},
		{"ImportLimits", testImportLimits},
		{"ImportLenientForms", testImportLenientForms},
		{"SearchRanksAcrossKinds", testSearchRanksAcrossKinds},
		{"SearchFindsInflectedForms", testSearchFindsInflectedForms},
		{"SearchByKind", testSearchByKind},
		{"SearchScopesAndOptions", testSearchScopesAndOptions},
		{"SearchSnippetOfLongMessage", testSearchSnippetOfLongMessage},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}
