package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

func testAppendAndHistory(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	for i := 1; i <= 25; i++ {
		role := []string{"user", "assistant", "system", "tool"}[i%4]
		seq, err := st.AppendMessage(bg, "u1", Message{Seq: 999, Role: role, Content: fmt.Sprintf("message %d", i)}, Limits{})
		if err != nil || seq != uint64(i) {
			t.Fatalf("append %d: seq %d, %v", i, seq, err)
		}
	}
	var all []Message
	from := uint64(0)
	pages := 0
	for {
		page, next, err := st.History(bg, "u1", from, 10)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, page...)
		if next == 0 {
			break
		}
		if next != page[len(page)-1].Seq+1 {
			t.Fatalf("next cursor %d after seq %d", next, page[len(page)-1].Seq)
		}
		from = next
	}
	if pages != 3 || len(all) != 25 {
		t.Fatalf("%d pages, %d messages", pages, len(all))
	}
	for i, m := range all {
		want := Message{Seq: uint64(i + 1), Role: []string{"user", "assistant", "system", "tool"}[(i+1)%4],
			Content: fmt.Sprintf("message %d", i+1), Timestamp: t0.Add(time.Duration(i+1) * time.Second)}
		if !reflect.DeepEqual(m, want) {
			t.Fatalf("message %d = %+v, want %+v", i, m, want)
		}
	}
	// Exactly one full page at the end: no next cursor.
	page, next, _ := st.History(bg, "u1", 16, 10)
	if len(page) != 10 || next != 0 {
		t.Fatalf("last full page: %d messages, next %d", len(page), next)
	}
	// Past the end: empty.
	page, next, _ = st.History(bg, "u1", 26, 10)
	if len(page) != 0 || next != 0 {
		t.Fatalf("past the end: %d messages, next %d", len(page), next)
	}
	// Default page size.
	page, _, _ = st.History(bg, "u1", 1, 0)
	if len(page) != 25 {
		t.Fatalf("default page: %d", len(page))
	}

	tail, err := st.Tail(bg, "u1", 3)
	if err != nil || len(tail) != 3 || tail[0].Seq != 23 || tail[2].Seq != 25 {
		t.Fatalf("Tail(3) = %+v, %v", tail, err)
	}
	tail, _ = st.Tail(bg, "u1", 100)
	if len(tail) != 25 || tail[0].Seq != 1 {
		t.Fatalf("Tail(100) returned %d from %d", len(tail), tail[0].Seq)
	}
	s, _ := st.Stats(bg, "u1")
	if s.Messages != 25 || s.NextMsgSeq != 26 {
		t.Fatalf("stats = %+v", s)
	}
}

func testMessageMetadataRoundTrip(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	meta := map[string]any{"tools_used": []any{"memory_profiler"}, "request_id": json.Number("9007199254740993"), "confidence": 0.85}
	if _, err := st.AppendMessage(bg, "u1", Message{Role: "assistant", Content: "x", Metadata: meta}, Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: "y", Metadata: map[string]any{}}, Limits{}); err != nil {
		t.Fatal(err)
	}
	msgs, _, _ := st.History(bg, "u1", 1, 10)
	if got := msgs[0].Metadata["request_id"]; got != json.Number("9007199254740993") {
		t.Fatalf("large integer metadata read back as %#v", got)
	}
	if msgs[1].Metadata != nil {
		t.Fatalf("empty metadata read back as %#v", msgs[1].Metadata)
	}
	_, err := st.AppendMessage(bg, "u1", Message{Role: "user", Metadata: map[string]any{"f": func() {}}}, Limits{})
	wantErr(t, err, store.ErrInvalid)
}

func testAppendMessageInvalid(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	before := digest(t, st)
	for _, m := range []Message{{Role: "bot", Content: "x"}, {Role: "", Content: "x"}, {Role: "user", Content: "bad \xff utf8"}} {
		_, err := st.AppendMessage(bg, "u1", m, Limits{})
		wantErr(t, err, store.ErrInvalid)
	}
	if digest(t, st) != before {
		t.Fatal("invalid appends changed the database")
	}
}

func testMaxMessagesRefusesAndChangesNothing(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	lim := Limits{MaxMessages: ptr.To[int64](3)}
	for i := 0; i < 3; i++ {
		if _, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: "m"}, lim); err != nil {
			t.Fatal(err)
		}
	}
	before := digest(t, st)
	_, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: "one too many"}, lim)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "maxMessages" || le.Max != 3 || le.Actual != 4 || le.Over != 1 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "4 messages, 1 over the maxMessages limit of 3") {
		t.Fatalf("message %q", err)
	}
	if digest(t, st) != before {
		t.Fatal("refused append changed the database")
	}
	// Raising the limit continues the sequence without a gap.
	seq, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: "m"}, Limits{MaxMessages: ptr.To[int64](4)})
	if err != nil || seq != 4 {
		t.Fatalf("seq %d, %v; want 4", seq, err)
	}
}

func testConcurrentAppendsOneSession(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	const writers, each = 50, 10
	var wg sync.WaitGroup
	seqs := make(chan uint64, writers*each)
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				seq, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: fmt.Sprintf("w%d-%d", w, i)}, Limits{})
				if err != nil {
					errs <- err
					return
				}
				seqs <- seq
				// Interleave other writes to the same session.
				if i%5 == 0 {
					if _, err := st.SetContext(bg, "u1", fmt.Sprintf("w%d", w), json.RawMessage(fmt.Sprint(i)), Limits{}); err != nil {
						errs <- err
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(seqs)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkContiguous(t, seqs, writers*each)
	msgs, next, err := st.History(bg, "u1", 1, writers*each+1)
	if err != nil || next != 0 || len(msgs) != writers*each {
		t.Fatalf("history: %d messages, next %d, %v", len(msgs), next, err)
	}
	seen := map[string]bool{}
	for i, m := range msgs {
		if m.Seq != uint64(i+1) {
			t.Fatalf("stored seq %d at position %d", m.Seq, i)
		}
		seen[m.Content] = true
	}
	if len(seen) != writers*each {
		t.Fatalf("%d distinct contents, want %d", len(seen), writers*each)
	}
	s, _ := st.Stats(bg, "u1")
	if s.Messages != writers*each || s.NextMsgSeq != writers*each+1 || s.ContextItems != writers {
		t.Fatalf("stats = %+v", s)
	}
}

func testMessageContentBoundByMaxValueBytes(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	before := digest(t, st)
	_, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: strings.Repeat("x", 11)}, Limits{MaxValueBytes: ptr.To[int64](10)})
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != store.LimitMaxValueBytes || le.Over != 1 {
		t.Fatalf("err = %v, want maxValueBytes exceeded by 1", err)
	}
	if digest(t, st) != before {
		t.Fatal("refused append changed the database")
	}
	if _, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: strings.Repeat("x", 10)}, Limits{MaxValueBytes: ptr.To[int64](10)}); err != nil {
		t.Fatalf("content at the limit must be accepted: %v", err)
	}
}
