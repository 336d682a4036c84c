package store

import (
	"errors"
	"fmt"
	"testing"
)

func TestLimitChecks(t *testing.T) {
	l := Limits{MaxValueBytes: 1024, MaxContextBytes: 4096, MaxMessages: 1000}
	tests := []struct {
		name string
		err  error
		want *LimitError
	}{
		{"value under", l.checkValue(1000), nil},
		{"value at", l.checkValue(1024), nil},
		{"value over", l.checkValue(2048), &LimitError{Limit: "maxValueBytes", Max: 1024, Actual: 2048, Over: 1024}},
		{"context grows within", l.checkContext(100, 4096), nil},
		{"context grows over", l.checkContext(4000, 5000), &LimitError{Limit: "maxContextBytes", Max: 4096, Actual: 5000, Over: 904}},
		{"context shrinks while over", l.checkContext(6000, 5000), nil},
		{"messages at", l.checkMessages(1000), nil},
		{"messages over", l.checkMessages(1001), &LimitError{Limit: "maxMessages", Max: 1000, Actual: 1001, Over: 1}},
		{"unlimited", Limits{}.checkValue(1 << 40), nil},
	}
	for _, tt := range tests {
		var le *LimitError
		got := errors.As(tt.err, &le)
		if got != (tt.want != nil) {
			t.Errorf("%s: err = %v, want %v", tt.name, tt.err, tt.want)
			continue
		}
		if tt.want != nil && *le != *tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, *le, *tt.want)
		}
	}
}

func TestLimitErrorMessages(t *testing.T) {
	tests := []struct {
		err  *LimitError
		want string
	}{
		{&LimitError{Limit: LimitMaxValueBytes, Max: 1024, Actual: 2048, Over: 1024},
			"value is 2048 bytes, 1024 over the maxValueBytes limit of 1024"},
		{&LimitError{Limit: LimitMaxContextBytes, Max: 4096, Actual: 5000, Over: 904},
			"context would be 5000 bytes, 904 over the maxContextBytes limit of 4096"},
		{&LimitError{Limit: LimitMaxMessages, Max: 1000, Actual: 1001, Over: 1},
			"session would have 1001 messages, 1 over the maxMessages limit of 1000"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
		// Wrapped as the store returns it, it is still reachable.
		var le *LimitError
		if !errors.As(fmt.Errorf("set context u1 %q: %w", "k", tt.err), &le) || le != tt.err {
			t.Errorf("errors.As failed for wrapped %v", tt.err)
		}
	}
}
