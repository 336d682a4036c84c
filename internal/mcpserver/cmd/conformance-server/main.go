// Command conformance-server serves the MCP server over Streamable HTTP on
// a loopback address with --auth=none and a local data folder (no
// Kubernetes), for the official MCP conformance suite
// (hack/conformance.sh) and for trying the tools with an MCP inspector.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/mcp-session-operator/mcp-session-operator/internal/mcpserver"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pebblestore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "Loopback address to serve /mcp on.")
	dataDir := flag.String("data-dir", "", "Folder of the local store (required).")
	flag.Parse()
	ctrl.SetLogger(zap.New())
	if err := run(*addr, *dataDir); err != nil {
		fmt.Fprintln(os.Stderr, "conformance-server:", err)
		os.Exit(1)
	}
}

func run(addr, dataDir string) error {
	if dataDir == "" {
		return fmt.Errorf("--data-dir is required")
	}
	if err := mcpserver.ValidateAuth(mcpserver.AuthNone, addr); err != nil {
		return err
	}
	st, err := pebblestore.Open(dataDir, pebblestore.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := mcpserver.New(mcpserver.Options{Addr: addr, Store: st, AuthMode: mcpserver.AuthNone})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.Start(log.IntoContext(ctx, ctrl.Log))
}
