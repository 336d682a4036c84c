// Command pause is the pod sandbox's process in the one-node cluster
// (containerd's sandbox_image): it holds the pod's namespaces, reaps the
// children it inherits as PID 1 of a shared PID namespace, and exits on
// SIGTERM or SIGINT. It replaces registry.k8s.io/pause, which cannot be
// pulled here.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
