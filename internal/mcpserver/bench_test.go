package mcpserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pebblestore"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pgstore"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pgstore/pgtest"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// The benchmarks measure add_message over real Streamable HTTP with the
// go-sdk client, auth on (TokenReview and SubjectAccessReview against the
// envtest apiserver, cached), on a session already holding 100,000
// messages; and, in the same run, the same load on a bare go-sdk server
// whose one tool does nothing: the transport's own ceiling.
//
//	KUBEBUILDER_ASSETS=$(hack/control-plane.sh $PWD/bin) \
//	  go test ./internal/mcpserver -run '^$' -bench BenchmarkAddMessage -benchtime 3000x

const benchPrefill = 100_000

var benchCeiling = map[int]float64{} // clients -> bare calls/s, for the ratio

// benchTransport is shared by all benchmark clients, with enough idle
// connections per host that 16 clients do not churn TCP connections.
var benchTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}()

func BenchmarkAddMessage(b *testing.B) {
	testenv.Require(b)
	bareURL := bareServer(b)
	env := addMessageEnv(b, testStore)
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("bare/clients=%d", clients), func(b *testing.B) {
			args := map[string]any{"session_id": "s", "role": "user", "content": benchContent}
			perSec := runLoad(b, clients, func(i int) *mcp.ClientSession {
				return benchClient(b, bareURL, "")
			}, "noop", func(int) map[string]any { return args })
			benchCeiling[clients] = perSec
		})
		b.Run(fmt.Sprintf("add_message/clients=%d", clients), func(b *testing.B) {
			perSec := runLoad(b, clients, func(i int) *mcp.ClientSession {
				return benchClient(b, env.url, env.tokens[i])
			}, "add_message", func(int) map[string]any { return env.args })
			if c := benchCeiling[clients]; c > 0 {
				b.ReportMetric(perSec/c, "x-ceiling")
			}
		})
	}
	b.Run("interleaved/clients=16", func(b *testing.B) { interleaved(b, bareURL, env) })
	// The same load with one session per client: what one hot session's
	// serialised, synced appends cost (see the store's per-session lock).
	b.Run("add_message_own_session/clients=16", func(b *testing.B) {
		perSec := runLoad(b, 16, func(i int) *mcp.ClientSession {
			return benchClient(b, env.url, env.tokens[i])
		}, "add_message", func(i int) map[string]any { return env.own[i] })
		if c := benchCeiling[16]; c > 0 {
			b.ReportMetric(perSec/c, "x-ceiling")
		}
	})
	// The opt-in group-commit window (--store-wal-min-sync-interval=1ms),
	// not the default: what it buys at 16 clients, what it costs one.
	windowed := addMessageEnv(b, openStore(b, pebblestore.Options{WALMinSyncInterval: time.Millisecond}))
	b.Run("add_message-wal-window=1ms/clients=1", func(b *testing.B) {
		perSec := runLoad(b, 1, func(i int) *mcp.ClientSession {
			return benchClient(b, windowed.url, windowed.tokens[i])
		}, "add_message", func(int) map[string]any { return windowed.args })
		if c := benchCeiling[1]; c > 0 {
			b.ReportMetric(perSec/c, "x-ceiling")
		}
	})
	b.Run("interleaved-wal-window=1ms/clients=16", func(b *testing.B) { interleaved(b, bareURL, windowed) })
	postgresAddMessage(b)
}

// postgresAddMessage is add_message on the PostgreSQL store, when a server
// is at hand (make bench starts one): one replica, on the long session
// and with a session per client; and two replicas sharing the database
// (two servers, each with its own pool), the clients split between them
// as a Service would.
func postgresAddMessage(b *testing.B) {
	if reason := pgtest.SkipReason(); reason != "" {
		b.Log("add_message on PostgreSQL skipped: " + reason)
		return
	}
	url := pgtest.NewDatabase(b)
	open := func() store.Store {
		st, err := pgstore.Open(context.Background(), url, pgstore.Options{Clock: testClock})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = st.Close() })
		return st
	}
	env := addMessageEnv(b, open())
	replica := kubeAuthOptions(b)
	replica.Store = open()
	_, second := startServer(b, replica)
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("add_message-postgres/clients=%d", clients), func(b *testing.B) {
			runLoad(b, clients, func(i int) *mcp.ClientSession { return benchClient(b, env.url, env.tokens[i]) },
				"add_message", func(int) map[string]any { return env.args })
		})
	}
	for _, r := range []struct {
		name string
		urls []string
	}{{"add_message-postgres_own_session", []string{env.url}}, {"add_message-postgres-2replicas_own_session", []string{env.url, second}}} {
		b.Run(r.name+"/clients=16", func(b *testing.B) {
			runLoad(b, 16, func(i int) *mcp.ClientSession { return benchClient(b, r.urls[i%len(r.urls)], env.tokens[i]) },
				"add_message", func(i int) map[string]any { return env.own[i] })
		})
	}
}

// interleaved runs the bare server and ours in alternating rounds: the
// bare ceiling on this machine moves by 2x between runs minutes apart
// (other processes, GC, frequency), so a ratio of two separate runs is
// mostly noise. The median of per-round ratios is the figure held to the
// 0.8 target.
func interleaved(b *testing.B, bareURL string, env benchEnv) {
	const clients, rounds = 16, 7
	bareArgs := map[string]any{"session_id": "s", "role": "user", "content": benchContent}
	bare := openWarm(b, clients, func(int) *mcp.ClientSession { return benchClient(b, bareURL, "") },
		"noop", func(int) map[string]any { return bareArgs })
	ours := openWarm(b, clients, func(i int) *mcp.ClientSession { return benchClient(b, env.url, env.tokens[i]) },
		"add_message", func(int) map[string]any { return env.args })
	perRound := max(b.N/rounds, clients)
	// One untimed round of each first: the pre-fill's import batch stays
	// on the heap until add_message's writes rotate Pebble's memtable,
	// and while it is there the process's GC runs several times less
	// often, which flatters whichever server runs first.
	measure(b, ours, perRound, "add_message", func(int) map[string]any { return env.args })
	measure(b, bare, perRound, "noop", func(int) map[string]any { return bareArgs })
	b.ResetTimer()
	var ratios, bareCPU, oursCPU []float64
	for range rounds {
		lb := measure(b, bare, perRound, "noop", func(int) map[string]any { return bareArgs })
		lo := measure(b, ours, perRound, "add_message", func(int) map[string]any { return env.args })
		ratios = append(ratios, lo.perSec/lb.perSec)
		bareCPU = append(bareCPU, us(lb.cpuPerCall))
		oursCPU = append(oursCPU, us(lo.cpuPerCall))
	}
	b.StopTimer()
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "x-ceiling-median")
	b.ReportMetric(ratios[0], "x-ceiling-min")
	b.ReportMetric(ratios[len(ratios)-1], "x-ceiling-max")
	// Process CPU per call (client and server together): tells a
	// server that costs more CPU from one that leaves the CPU idle.
	b.ReportMetric(median(bareCPU), "bare-cpu-us/call")
	b.ReportMetric(median(oursCPU), "ours-cpu-us/call")
	b.ReportMetric(0, "ns/op")
}

// openStore opens a store of its own for a benchmark, with opts.
func openStore(b *testing.B, opts pebblestore.Options) store.Store {
	b.Helper()
	opts.Clock, opts.Logger = testClock, quietPebble{}
	st, err := pebblestore.Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st
}

const benchContent = "Production API instances are consuming memory at 100MB/hour since v2.4.0; the cache keeps growing."

type benchEnv struct {
	url    string
	tokens []string
	args   map[string]any
	own    []map[string]any // one session per client
}

// addMessageEnv starts the real server with Kubernetes auth and a session
// pre-filled with benchPrefill messages (imported through the store in one
// batch), and mints one service-account token per client.
func addMessageEnv(b *testing.B, st store.Store) benchEnv {
	b.Helper()
	ensureClusterRoles(b)
	ns := newNamespace(b)
	env := benchEnv{}
	for i := range 16 {
		env.tokens = append(env.tokens, serviceAccountToken(b, ns, fmt.Sprintf("agent-%d", i), "mcpsession-editor"))
	}
	opts := kubeAuthOptions(b)
	opts.Store = st
	_, env.url = startServer(b, opts)
	cs := benchClient(b, env.url, env.tokens[0])
	ok[SessionResult](b, cs, "create_session", map[string]any{"session_id": "long-running", "project": "bench"})
	obj := session(b, ns, "long-running")
	// Room for the pre-fill and the benchmark's own messages.
	if err := k8s.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"limits":{"maxMessages":100000000}}}`))); err != nil {
		b.Fatal(err)
	}
	doc := &document.Document{ID: "long-running", Project: "bench"}
	for i := range benchPrefill {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		doc.ConversationHistory = append(doc.ConversationHistory, document.Message{Role: role, Content: fmt.Sprintf("message %d: %s", i, benchContent)})
	}
	ref := store.SessionRef{UID: string(obj.UID), Namespace: ns, Name: "long-running", Project: "bench"}
	if _, err := st.Import(context.Background(), ref, doc, store.ImportOptions{Replace: true}); err != nil {
		b.Fatal(err)
	}
	testenv.Eventually(b, waitTimeout, "limits in force", func() string {
		v := ok[SessionView](b, cs, "get_session", map[string]any{"session_id": "long-running"})
		if v.Limits.MaxMessages != 100000000 || v.Counts.Messages != benchPrefill {
			return fmt.Sprintf("limits.max_messages %d, counts.messages %d", v.Limits.MaxMessages, v.Counts.Messages)
		}
		return ""
	})
	env.args = map[string]any{"session_id": "long-running", "role": "user", "content": benchContent}
	for i := range 16 {
		name := fmt.Sprintf("own-%d", i)
		ok[SessionResult](b, cs, "create_session", map[string]any{"session_id": name})
		env.own = append(env.own, map[string]any{"session_id": name, "role": "user", "content": benchContent})
	}
	return env
}

// bareServer is a go-sdk server in the same stateless Streamable HTTP mode
// with one tool that does nothing.
func bareServer(b *testing.B) string {
	b.Helper()
	srv := mcp.NewServer(&mcp.Implementation{Name: "bare", Version: "v0"}, nil)
	type noopArgs struct {
		SessionID string `json:"session_id"`
		Role      string `json:"role"`
		Content   string `json:"content"`
	}
	type noopResult struct {
		Status string `json:"status"`
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "noop", Description: "does nothing"}, func(context.Context, *mcp.CallToolRequest, noopArgs) (*mcp.CallToolResult, noopResult, error) {
		return nil, noopResult{Status: "ok"}, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{Stateless: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: h}
	go func() { _ = hs.Serve(ln) }()
	b.Cleanup(func() { _ = hs.Close() })
	return "http://" + ln.Addr().String() + "/mcp"
}

func benchClient(b testing.TB, url, token string) *mcp.ClientSession {
	b.Helper()
	var rt http.RoundTripper = benchTransport
	if token != "" {
		rt = testenv.Bearer(token, benchTransport)
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "v0"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: rt}, MaxRetries: -1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cs.Close() })
	return cs
}

// runLoad makes b.N calls of tool spread over clients concurrent client
// sessions and reports calls/s and the p50 and p99 latency.
func runLoad(b *testing.B, clients int, open func(i int) *mcp.ClientSession, tool string, args func(i int) map[string]any) float64 {
	b.Helper()
	sessions := openWarm(b, clients, open, tool, args)
	b.ResetTimer()
	l := measure(b, sessions, b.N, tool, args)
	b.StopTimer()
	b.ReportMetric(l.perSec, "calls/s")
	b.ReportMetric(ms(l.lat[len(l.lat)*50/100]), "p50-ms")
	b.ReportMetric(ms(l.lat[min(len(l.lat)-1, len(l.lat)*99/100)]), "p99-ms")
	b.ReportMetric(us(l.cpuPerCall), "cpu-us/call")
	b.ReportMetric(0, "ns/op")
	return l.perSec
}

// openWarm opens one client session per client and makes one call on each,
// so connections and the token and access review caches are warm.
func openWarm(b *testing.B, clients int, open func(i int) *mcp.ClientSession, tool string, args func(i int) map[string]any) []*mcp.ClientSession {
	b.Helper()
	sessions := make([]*mcp.ClientSession, clients)
	for i := range sessions {
		sessions[i] = open(i)
		if res := call(b, sessions[i], tool, args(i)); res.IsError {
			b.Fatalf("%s: %s", tool, text(res))
		}
	}
	return sessions
}

// load is what one measure run saw.
type load struct {
	perSec     float64
	lat        []time.Duration // sorted
	cpuPerCall time.Duration   // this process's user+system CPU per call
}

// measure makes n calls of tool spread over sessions, concurrently.
func measure(b *testing.B, sessions []*mcp.ClientSession, n int, tool string, args func(i int) map[string]any) load {
	b.Helper()
	clients := len(sessions)
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	cpu0 := processCPU(b)
	start := time.Now()
	for c := range clients {
		k := n / clients
		if c < n%clients {
			k++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat[c] = make([]time.Duration, 0, k)
			for range k {
				t0 := time.Now()
				res, err := sessions[c].CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args(c)})
				if err != nil || res.IsError {
					b.Errorf("%s: %v %v", tool, err, res)
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU(b) - cpu0
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		b.Fatal("no calls completed")
	}
	return load{perSec: float64(len(all)) / elapsed.Seconds(), lat: all, cpuPerCall: cpu / time.Duration(len(all))}
}

// processCPU is the user plus system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
