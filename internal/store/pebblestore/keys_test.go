package pebblestore

import (
	"bytes"
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
