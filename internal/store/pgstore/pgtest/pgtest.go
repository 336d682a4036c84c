// Package pgtest gives tests a database of their own on the PostgreSQL
// server that `make test` starts (hack/postgres.sh), named by
// MCP_TEST_POSTGRES_URL. Without it, tests that need PostgreSQL skip and
// say why.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env names the server tests may create databases on.
const Env = "MCP_TEST_POSTGRES_URL"

// SkipReason is why tests that need PostgreSQL skip, or "" when a server
// is at hand.
func SkipReason() string {
	if os.Getenv(Env) == "" {
		return Env + " is not set (make test starts a private PostgreSQL with hack/postgres.sh and sets it)"
	}
	return ""
}

// Require skips t unless a server is at hand.
func Require(t testing.TB) {
	t.Helper()
	if r := SkipReason(); r != "" {
		t.Skip("needs PostgreSQL: " + r)
	}
}

// NewDatabase creates an empty database for t, dropped (with whatever is
// still connected to it) when t ends, and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	Require(t)
	base := os.Getenv(Env)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "mcp_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", Env, err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := WithDatabase(base, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// WithDatabase is the URL base with its database replaced by name.
func WithDatabase(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("%s is not a URL: %w", Env, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}
