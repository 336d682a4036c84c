package store

import (
	"bytes"
	"errors"
	"testing"
)

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
		err := ValidUID(tt.uid)
		if (err == nil) != tt.ok {
			t.Errorf("ValidUID(%q) = %v, want ok=%v", tt.uid, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidUID(%q) error does not wrap ErrInvalid", tt.uid)
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
		err := ValidKey(tt.key)
		if (err == nil) != tt.ok {
			t.Errorf("ValidKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidKey(%q) error does not wrap ErrInvalid", tt.key)
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
