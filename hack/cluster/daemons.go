package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemon is a process `up` started. PID and StartTime (clock ticks since
// boot, from /proc/PID/stat) together name it: a recycled PID never matches
// both, so `down` cannot signal a stranger.
type daemon struct {
	Name      string `json:"name"`
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
	Log       string `json:"log"`
}

// startDaemon runs argv in its own session, so it outlives this command,
// with its output in logs/<name>.log, and records it in the state before
// returning.
func startDaemon(st *state, name string, argv []string, env []string) (*daemon, error) {
	logPath := st.Layout.path("logs", name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fmt.Fprintf(f, "\n==== %s %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	st0, _ := procStartTime(cmd.Process.Pid)
	d := daemon{Name: name, PID: cmd.Process.Pid, StartTime: st0, Log: logPath}
	st.Daemons = append(st.Daemons, d)
	if err := st.save(); err != nil {
		return nil, err
	}
	// Reap it if it dies while this command still runs, so that a crash is
	// seen as an exit and not as a zombie that looks alive.
	go func() { _ = cmd.Wait() }()
	return &d, nil
}

// alive reports whether the daemon's process still runs (a zombie does not).
func (d daemon) alive() bool {
	st, state := procStat(d.PID)
	return st != 0 && st == d.StartTime && state != "Z" && state != "X"
}

// stop sends SIGTERM, waits up to grace for the process to exit, then
// SIGKILLs it.
func (d daemon) stop(grace time.Duration) error {
	if !d.alive() {
		return nil
	}
	_ = syscall.Kill(d.PID, syscall.SIGTERM)
	if waitGone(d, grace) {
		return nil
	}
	_ = syscall.Kill(d.PID, syscall.SIGKILL)
	if waitGone(d, 10*time.Second) {
		return nil
	}
	return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", d.Name, d.PID)
}

func waitGone(d daemon, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !d.alive() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return !d.alive()
}

func procStartTime(pid int) (uint64, error) {
	st, _ := procStat(pid)
	if st == 0 {
		return 0, errors.New("no such process")
	}
	return st, nil
}

// procStat returns the start time and state of pid from /proc/PID/stat
// (0 and "" when there is no such process).
func procStat(pid int) (uint64, string) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, ""
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields we need come after its last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, ""
	}
	v, _ := strconv.ParseUint(f[19], 10, 64) // field 22: starttime
	return v, f[0]                           // field 3: state
}

// processesMatching lists the PIDs whose command line contains every one
// of the given strings (the shims of one containerd, say).
func processesMatching(parts ...string) []int {
	es, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range es {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue
		}
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		ok := true
		for _, p := range parts {
			if !strings.Contains(cmdline, p) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, pid)
		}
	}
	return out
}
