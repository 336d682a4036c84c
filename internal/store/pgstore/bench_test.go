package pgstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pgstore/pgtest"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/storetest"
)

// Benchmarks of the PostgreSQL store, beside the Pebble store's
// (internal/store/pebblestore) in make bench's report, on the server
// hack/postgres.sh starts for the run (PostgreSQL's default durability:
// fsync and synchronous_commit on). The anchor, on the same server in the
// same run, is pgbench: a script of the same shape as one append (the
// statement AppendMessage sends, with the same record), and pgbench's
// built-in simple-update for reference.
//
//	hack/postgres.sh run -- go test ./internal/store/pgstore -run '^$' -bench 'Postgres|Pgbench' -benchtime 1x
//
// The pool has as many connections as the benchmark has writers
// (pool_max_conns), as pgbench has one connection per client.

// openPool opens a store on a fresh database with a pool of conns.
func openPool(b *testing.B, url string, conns int) *Store {
	b.Helper()
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	st, err := Open(context.Background(), fmt.Sprintf("%s%spool_max_conns=%d", url, sep, conns), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st
}

// prefill makes session uid hold n 1 KiB messages, through Import (one
// transaction, COPY).
func prefill(b *testing.B, st store.Store, uid string, n int) {
	b.Helper()
	doc := &document.Document{ID: uid}
	for i := range n {
		doc.ConversationHistory = append(doc.ConversationHistory, document.Message{Role: []string{"user", "assistant"}[i%2], Content: storetest.Payload1K})
	}
	if _, err := st.Import(context.Background(), store.SessionRef{UID: uid, Name: uid}, doc, store.ImportOptions{}); err != nil {
		b.Fatal(err)
	}
}

// vacuum analyzes the database, as autovacuum would soon after a bulk
// load, so plans and the GIN pending list do not depend on timing.
func vacuum(b *testing.B, st *Store) {
	b.Helper()
	if _, err := st.pool.Exec(context.Background(), "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPostgresAppendDurable is BenchmarkAppendDurable of the Pebble
// store on PostgreSQL: synchronously committed 1 KiB appends per second,
// sessions starting at 1,000 messages, one writer per session (throughput
// beyond one session comes from the server's group commit); and 16
// writers on one session, which PostgreSQL serialises (the session row's
// lock is held until each commit is durable).
func BenchmarkPostgresAppendDurable(b *testing.B) {
	pgtest.Require(b)
	for _, c := range []struct {
		name              string
		sessions, writers int
	}{
		{"sessions=1", 1, 1},
		{"sessions=16", 16, 1},
		{"sessions=64", 64, 1},
		{"hot-session/writers=16", 1, 16},
	} {
		b.Run(c.name, func(b *testing.B) {
			st := openPool(b, pgtest.NewDatabase(b), c.sessions*c.writers)
			uids := make([]string, c.sessions)
			for i := range uids {
				uids[i] = fmt.Sprintf("s%d", i)
				prefill(b, st, uids[i], 1000)
			}
			vacuum(b, st)
			storetest.AppendDurable(b, st, uids, c.writers)
		})
	}
}

// BenchmarkPostgresAppendLatency is BenchmarkAppendLatency on PostgreSQL:
// single appends to a session of 1,000 messages and to one of 100,000 in
// the same database, alternating.
func BenchmarkPostgresAppendLatency(b *testing.B) {
	pgtest.Require(b)
	st := openPool(b, pgtest.NewDatabase(b), 2)
	prefill(b, st, "small", 1_000)
	prefill(b, st, "big", 100_000)
	vacuum(b, st)
	storetest.AppendLatency(b, st, "small", "big")
}

// BenchmarkPostgresResume is BenchmarkResume on PostgreSQL: the first read
// of a session of 100,000 messages and 10 MiB of context (1,000 keys of
// ~10.5 KB) through a freshly opened store (new connections, as after a
// manager restart): header, last 20 messages, context keys.
func BenchmarkPostgresResume(b *testing.B) {
	pgtest.Require(b)
	url := pgtest.NewDatabase(b)
	st := openPool(b, url, 4)
	prefill(b, st, "big", 100_000)
	value, _ := json.Marshal(strings.Repeat(storetest.Payload1K, 11)[:10500])
	for i := range 1000 {
		if _, err := st.SetContext(context.Background(), "big", fmt.Sprintf("context/%04d", i), value, store.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	vacuum(b, st)
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	storetest.Resume(b, func() store.Store {
		st, err := Open(context.Background(), url, Options{})
		if err != nil {
			b.Fatal(err)
		}
		return st
	}, "big", 100_000, 1000)
}

// BenchmarkPgbench runs pgbench on the same server: append-shape is
// AppendMessage's statement with the same record, one session per client
// (as BenchmarkPostgresAppendDurable's writers); simple-update is
// pgbench's built-in, for reference. Each runs for $PGBENCH_SECONDS
// (default 10) per benchmark iteration; run it with -benchtime 1x.
func BenchmarkPgbench(b *testing.B) {
	pgtest.Require(b)
	pgbench := filepath.Join(envOr("PGBIN", "/usr/lib/postgresql/15/bin"), "pgbench")
	if _, err := os.Stat(pgbench); err != nil {
		b.Skipf("no pgbench: %v", err)
	}
	seconds := envOr("PGBENCH_SECONDS", "10")
	const clients = 64
	b.Run(fmt.Sprintf("append-shape/clients=%d", clients), func(b *testing.B) {
		url := pgtest.NewDatabase(b)
		st := openPool(b, url, 4)
		for i := range clients {
			prefill(b, st, fmt.Sprintf("s%d", i), 1000)
		}
		vacuum(b, st)
		script := filepath.Join(b.TempDir(), "append.sql")
		if err := os.WriteFile(script, []byte(appendScript(b)), 0o644); err != nil {
			b.Fatal(err)
		}
		runPgbench(b, pgbench, url, "-f", script, "-M", "prepared", "-c", strconv.Itoa(clients), "-j", "2", "-T", seconds, "-n")
	})
	b.Run(fmt.Sprintf("simple-update/clients=%d", clients), func(b *testing.B) {
		url := pgtest.NewDatabase(b)
		if out, err := exec.Command(pgbench, "-i", "-q", "-s", "1", url).CombinedOutput(); err != nil {
			b.Fatalf("pgbench -i: %v\n%s", err, out)
		}
		runPgbench(b, pgbench, url, "-b", "simple-update", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", "2", "-T", seconds, "-n")
	})
}

// appendScript is the pgbench script of one append: appendMessageSQL with
// the parameters AppendMessage sends for a 1 KiB message, the session
// being the client's own (s<client_id>).
func appendScript(b *testing.B) string {
	w, err := store.PrepareMessage(store.Message{Role: "user", Content: storetest.Payload1K}, store.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	head, tail, err := w.Encode(store.Timestamp(time.Now()))
	if err != nil {
		b.Fatal(err)
	}
	tsv, terms := vector(w.Content())
	uid := "('s' || :client_id)"
	base := store.StoredSize("s0", store.KindMessage, "", append(append([]byte(nil), head...), tail...))
	hex := func(p []byte) string { return fmt.Sprintf(`'\x%x'::bytea`, p) }
	args := map[string]string{
		"$1": uid, "$2": hex(head), "$3": strconv.FormatInt(base, 10), "$4": "'" + strings.ReplaceAll(tsv.String(), "'", "''") + "'::tsvector",
		"$5": strconv.Itoa(terms), "$6": "now()", "$7": "0", "$8": hex(tail),
	}
	sql := regexp.MustCompile(`\$\d`).ReplaceAllStringFunc(appendMessageSQL, func(p string) string { return args[p] })
	// pgbench reads one statement per line unless it ends in a semicolon.
	return strings.Join(strings.Fields(sql), " ") + ";\n"
}

// runPgbench runs pgbench and reports its transactions per second.
func runPgbench(b *testing.B, pgbench, url string, args ...string) {
	b.ResetTimer()
	var tps []float64
	for range b.N {
		cmd := exec.Command(pgbench, append(args, url)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			b.Fatalf("pgbench %v: %v\n%s", args, err, out.String())
		}
		sc := bufio.NewScanner(&out)
		found := false
		for sc.Scan() {
			if m := regexp.MustCompile(`^tps = ([0-9.]+) \(without initial connection time\)`).FindStringSubmatch(sc.Text()); m != nil {
				v, _ := strconv.ParseFloat(m[1], 64)
				tps = append(tps, v)
				found = true
			}
		}
		if !found {
			b.Fatalf("pgbench printed no tps:\n%s", out.String())
		}
	}
	b.StopTimer()
	var sum float64
	for _, v := range tps {
		sum += v
	}
	b.ReportMetric(sum/float64(len(tps)), "tps")
	b.ReportMetric(0, "ns/op")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
