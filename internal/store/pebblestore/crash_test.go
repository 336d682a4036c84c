package pebblestore

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment of the crash child: the database directory and the round
// number, which makes every round's message contents distinct.
const (
	crashDirEnv   = "STORE_CRASH_DIR"
	crashRoundEnv = "STORE_CRASH_ROUND"
	crashUID      = "crash"
	crashWorkers  = 4
)

// crashContent is the message a crash worker writes; the parent recomputes
// it to check contents. Lengths vary up to ~2 KiB so records straddle WAL
// block boundaries in different ways.
func crashContent(round, worker, i int) string {
	head := fmt.Sprintf("r%d-w%d-i%d|", round, worker, i)
	return head + strings.Repeat(string(rune('a'+(i+worker)%26)), (i*37+worker*101)%2048)
}

// crashAppendLoop appends from crashWorkers goroutines to one session and
// writes "<seq> <worker> <i>\n" to w after each append is acknowledged.
// It stops after limit acknowledgements, or when it has run for a minute
// (so a child the parent failed to kill cannot run forever).
func crashAppendLoop(st *Store, w io.Writer, round, limit int) error {
	var (
		mu    sync.Mutex
		acked int
		wg    sync.WaitGroup
		errc  = make(chan error, crashWorkers)
	)
	deadline := time.Now().Add(time.Minute)
	for worker := 0; worker < crashWorkers; worker++ {
		wg.Add(1)
		go func(worker int) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				seq, err := st.AppendMessage(bg, crashUID, Message{Role: "user", Content: crashContent(round, worker, i)}, Limits{})
				if err != nil {
					errc <- err
					return
				}
				mu.Lock()
				if limit > 0 && acked >= limit {
					mu.Unlock()
					return
				}
				acked++
				_, err = fmt.Fprintf(w, "%d %d %d\n", seq, worker, i)
				mu.Unlock()
				if err != nil {
					errc <- err
					return
				}
			}
		}(worker)
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// readAcks parses the ack lines of one round, ignoring a final line cut off
// by the kill (which only makes the checked set smaller).
func readAcks(t *testing.T, r *bufio.Reader, round int, acks map[uint64]string, onAck func(n int)) {
	t.Helper()
	n := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("bad ack line %q", line)
		}
		seq, err1 := strconv.ParseUint(f[0], 10, 64)
		worker, err2 := strconv.Atoi(f[1])
		i, err3 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("bad ack line %q", line)
		}
		if _, dup := acks[seq]; dup {
			t.Fatalf("sequence number %d acknowledged twice", seq)
		}
		acks[seq] = crashContent(round, worker, i)
		n++
		if onAck != nil {
			onAck(n)
		}
	}
}

// verifyAcks checks that every acknowledged append is stored with its
// content and that the history is exactly 1..N with no gaps.
func verifyAcks(t *testing.T, st *Store, acks map[uint64]string) {
	t.Helper()
	stats, err := st.Stats(bg, crashUID)
	if err != nil {
		t.Fatal(err)
	}
	var maxAck uint64
	for seq := range acks {
		maxAck = max(maxAck, seq)
	}
	if uint64(stats.Messages) < maxAck || stats.NextMsgSeq != uint64(stats.Messages)+1 {
		t.Fatalf("header %+v, but seq %d was acknowledged", stats, maxAck)
	}
	msgs, next, err := st.History(bg, crashUID, 1, int(stats.Messages)+1)
	if err != nil || next != 0 || int64(len(msgs)) != stats.Messages {
		t.Fatalf("history: %d messages (next %d, %v), header says %d", len(msgs), next, err, stats.Messages)
	}
	for i, m := range msgs {
		if m.Seq != uint64(i+1) {
			t.Fatalf("sequence gap: position %d holds seq %d", i, m.Seq)
		}
		if want, ok := acks[m.Seq]; ok && m.Content != want {
			t.Fatalf("seq %d content %.40q, acknowledged %.40q", m.Seq, m.Content, want)
		}
	}
}

// TestCrashHelper is the child process of TestCrashRecovery: with
// STORE_CRASH_DIR set it appends until killed. Run directly, it checks the
// same loop and ack protocol in-process, so the crash test's assumptions are
// themselves tested.
func TestCrashHelper(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
		st, err := Open(dir, Options{Logger: quietLogger{}})
		if err != nil {
			t.Fatal(err)
		}
		// Unbuffered stdout: each ack is one write, made after the commit.
		if err := crashAppendLoop(st, os.Stdout, round, 0); err != nil {
			t.Fatal(err)
		}
		t.Fatal("crash child was not killed within a minute")
	}
	st := openTest(t)
	mustCreate(t, st, crashUID)
	var out bytes.Buffer
	if err := crashAppendLoop(st, &out, 1, 60); err != nil {
		t.Fatal(err)
	}
	acks := map[uint64]string{}
	readAcks(t, bufio.NewReader(&out), 1, acks, nil)
	if len(acks) != 60 {
		t.Fatalf("%d acks, want 60", len(acks))
	}
	verifyAcks(t, st, acks)
}

// TestCrashRecovery kills a writer process with SIGKILL at a random point,
// several times, and checks after each restart that every acknowledged
// append survived with its content and sequence numbers stay contiguous.
func TestCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(dir, Options{Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, st, crashUID)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	acks := map[uint64]string{}
	for round := 1; round <= 3; round++ {
		killAfter := 10 + rng.IntN(400)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killed := false
		readAcks(t, bufio.NewReader(stdout), round, acks, func(n int) {
			if n == killAfter && !killed {
				killed = true
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
				_ = cmd.Process.Kill() // SIGKILL
			}
		})
		err = cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child exited before %d acks: %v\n%s", round, killAfter, err, stderr.String())
		}
		st, err := Open(dir, Options{Logger: quietLogger{}})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		verifyAcks(t, st, acks)
		stats, _ := st.Stats(bg, crashUID)
		t.Logf("round %d: killed after %d acks; %d acknowledged in total, %d stored", round, killAfter, len(acks), stats.Messages)
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
