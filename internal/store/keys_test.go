package store

import (
	"bytes"
	"errors"
	"sort"
	"testing"
)

func TestKeyEncoding(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"meta", metaKey("u1"), "s/u1/meta"},
		{"extra", extraKey("u1"), "s/u1/extra"},
		{"ctx", ctxKey("u1", "deployment/diff"), "s/u1/ctx/deployment/diff"},
		{"ctx prefix", ctxPrefix("u1"), "s/u1/ctx/"},
		{"msg", msgKey("u1", 42), "s/u1/msg/00000000000000000042"},
		{"msg max", msgKey("u1", ^uint64(0)), "s/u1/msg/18446744073709551615"},
		{"disc", discKey("u1", 7), "s/u1/disc/00000000000000000007"},
		{"session prefix", sessionPrefix("abc"), "s/abc/"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestSeqKeysSortNumerically(t *testing.T) {
	seqs := []uint64{10, 9, 100, 1, 99, 1 << 40, 2}
	keys := make([][]byte, len(seqs))
	for i, s := range seqs {
		keys[i] = msgKey("u", s)
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for i, k := range keys {
		got, err := parseSeq(k, msgPrefix("u"))
		if err != nil || got != seqs[i] {
			t.Fatalf("position %d: key %q parses to %d (%v), want %d", i, k, got, err, seqs[i])
		}
	}
}

func TestParseSeqRejectsMalformedKeys(t *testing.T) {
	p := msgPrefix("u")
	for _, k := range []string{"s/u/msg/42", "s/u/msg/0000000000000000004x", "s/v/msg/00000000000000000042", "s/u/msg/000000000000000000042"} {
		if _, err := parseSeq([]byte(k), p); err == nil {
			t.Errorf("parseSeq(%q) succeeded", k)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct{ in, want string }{
		{"s/u1/", "s/u10"},
		{"s/u1/ctx/a", "s/u1/ctx/b"},
		{"a\xff", "b"},
		{"\xff\xff", ""},
	}
	for _, tt := range tests {
		if got := string(prefixEnd([]byte(tt.in))); got != tt.want {
			t.Errorf("prefixEnd(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// A session's range must not contain a session whose uid extends it.
	p := sessionPrefix("u1")
	other := metaKey("u10")
	if bytes.Compare(other, p) >= 0 && bytes.Compare(other, prefixEnd(p)) < 0 {
		t.Fatalf("range of u1 contains %q", other)
	}
}

func TestValidUID(t *testing.T) {
	tests := []struct {
		uid string
		ok  bool
	}{
		{"6f1c2b9e-0d3a-4c55-9a7e-2b1f0c9d8e7a", true},
		{"s1", true},
		{"a_b.c", true},
		{"", false},
		{"a/b", false},
		{"a b", false},
		{"a\x00", false},
		{"ü", false},
		{string(bytes.Repeat([]byte("a"), 129)), false},
	}
	for _, tt := range tests {
		err := validUID(tt.uid)
		if (err == nil) != tt.ok {
			t.Errorf("validUID(%q) = %v, want ok=%v", tt.uid, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("validUID(%q) error does not wrap ErrInvalid", tt.uid)
		}
	}
}

func TestValidKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"deployment_diff", true},
		{"a/b c", true},
		{"ключ", true},
		{string(bytes.Repeat([]byte("k"), MaxKeyBytes)), true},
		{string(bytes.Repeat([]byte("k"), MaxKeyBytes+1)), false},
		{"", false},
		{"a\x00b", false},
		{"\xff\xfe", false},
	}
	for _, tt := range tests {
		err := validKey(tt.key)
		if (err == nil) != tt.ok {
			t.Errorf("validKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("validKey(%q) error does not wrap ErrInvalid", tt.key)
		}
	}
}

func TestPythonType(t *testing.T) {
	tests := map[string]string{
		`{"a":1}`: "dict", `[1]`: "list", `"s"`: "str", `45000`: "int", `-3`: "int",
		`0.7`: "float", `1e3`: "float", `true`: "bool", `false`: "bool", `null`: "NoneType",
	}
	for in, want := range tests {
		if got := pythonType([]byte(in)); got != want {
			t.Errorf("pythonType(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestValidRoleAndRelevance(t *testing.T) {
	for _, r := range []string{"user", "assistant", "system", "tool"} {
		if err := validRole(r); err != nil {
			t.Errorf("role %q refused: %v", r, err)
		}
	}
	for _, r := range []string{"", "User", "bot"} {
		if err := validRole(r); !errors.Is(err, ErrInvalid) {
			t.Errorf("role %q: err = %v, want ErrInvalid", r, err)
		}
	}
	rel := []struct {
		in, want float64
		ok       bool
	}{
		{0, DefaultRelevance, true}, {0.7, 0.7, true}, {1, 1, true},
		{-0.1, 0, false}, {1.5, 0, false},
	}
	for _, tt := range rel {
		got, err := normalizeRelevance(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("normalizeRelevance(%v) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
