package document

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	utc := func(y, mo, d, h, mi, s, us int) time.Time {
		return time.Date(y, time.Month(mo), d, h, mi, s, us*1000, time.UTC)
	}
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2025-09-02T10:00:00", utc(2025, 9, 2, 10, 0, 0, 0)},
		{"2025-09-02T10:00:00.123456", utc(2025, 9, 2, 10, 0, 0, 123456)},
		{"2025-09-02T10:00:00.5", utc(2025, 9, 2, 10, 0, 0, 500000)},
		{"2025-09-02T10:00:00.123456789Z", utc(2025, 9, 2, 10, 0, 0, 123456)},
		{"2025-09-02 10:00:00.250000", utc(2025, 9, 2, 10, 0, 0, 250000)},
		{"2025-09-02T10:00:00+00:00", utc(2025, 9, 2, 10, 0, 0, 0)},
		{"2025-09-02T12:00:00+02:00", utc(2025, 9, 2, 10, 0, 0, 0)},
		{"2025-09-02T10:00:00Z", utc(2025, 9, 2, 10, 0, 0, 0)},
		{"2025-09-02", utc(2025, 9, 2, 0, 0, 0, 0)},
	}
	for _, tt := range tests {
		got, err := parseTime(tt.in)
		if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("parseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2025-13-01T00:00:00", "1757000000", "0001-01-01T00:00:00+01:00"} {
		if _, err := parseTime(bad); err == nil {
			t.Errorf("parseTime(%q) accepted", bad)
		}
	}
}

func TestFormatTimeRoundTrips(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2025, 9, 2, 10, 0, 0, 0, time.UTC), "2025-09-02T10:00:00+00:00"},
		{time.Date(2025, 9, 2, 10, 0, 0, 123456000, time.UTC), "2025-09-02T10:00:00.123456+00:00"},
		{time.Date(2025, 9, 2, 10, 0, 0, 500000000, time.UTC), "2025-09-02T10:00:00.500000+00:00"},
		{time.Date(2025, 9, 2, 12, 0, 0, 0, time.FixedZone("", 7200)), "2025-09-02T10:00:00+00:00"},
	}
	for _, tt := range tests {
		got := formatTime(tt.in)
		if got != tt.want {
			t.Errorf("formatTime(%v) = %q, want %q", tt.in, got, tt.want)
		}
		back, err := parseTime(got)
		if err != nil || !back.Equal(tt.in) {
			t.Errorf("parseTime(formatTime(%v)) = %v, %v", tt.in, back, err)
		}
	}
}
