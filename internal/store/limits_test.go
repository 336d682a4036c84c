package store

import (
	"errors"
	"fmt"
	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"
	"testing"
)

func TestLimitChecks(t *testing.T) {
	l := Limits{MaxValueBytes: ptr.To[int64](1024), MaxContextBytes: ptr.To[int64](4096), MaxMessages: ptr.To[int64](1000)}
	tests := []struct {
		name string
		err  error
		want *LimitError
	}{
		{"value under", checkValue(l, 1000), nil},
		{"value at", checkValue(l, 1024), nil},
		{"value over", checkValue(l, 2048), &LimitError{Limit: "maxValueBytes", Max: 1024, Actual: 2048, Over: 1024}},
		{"context grows within", checkContext(l, 100, 4096), nil},
		{"context grows over", checkContext(l, 4000, 5000), &LimitError{Limit: "maxContextBytes", Max: 4096, Actual: 5000, Over: 904}},
		{"context shrinks while over", checkContext(l, 6000, 5000), nil},
		{"messages at", checkMessages(l, 1000), nil},
		{"messages over", checkMessages(l, 1001), &LimitError{Limit: "maxMessages", Max: 1000, Actual: 1001, Over: 1}},
		{"unlimited", checkValue(Limits{}, 1<<40), nil},
	}
	for _, tt := range tests {
		var le *LimitError
		got := errors.As(tt.err, &le)
		if got != (tt.want != nil) {
			t.Errorf("%s: err = %v, want %v", tt.name, tt.err, tt.want)
			continue
		}
		if tt.want != nil {
			if diff := cmp.Diff(tt.want, le); diff != "" {
				t.Errorf("%s: LimitError (-want +got):\n%s", tt.name, diff)
			}
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
