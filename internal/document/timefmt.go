package document

import (
	"fmt"
	"time"
)

// Exported documents use Python's datetime.isoformat() layout so the
// tutorial's code can read them back with datetime.fromisoformat (which, before
// Python 3.11, accepts only 0 or 6 fractional digits). Times are UTC with an
// explicit +00:00 offset rather than the tutorial's naive local times, which
// lose their zone.
const (
	isoLayout      = "2006-01-02T15:04:05-07:00"
	isoMicroLayout = "2006-01-02T15:04:05.000000-07:00"
)

// formatTime renders t like Python's isoformat() on an aware UTC datetime.
func formatTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/int(time.Microsecond) == 0 {
		return t.Format(isoLayout)
	}
	return t.Format(isoMicroLayout)
}

// parseTime accepts the timestamps file-based session tools write:
// RFC 3339 with Z or an offset, Python's isoformat() with or without offset
// and with any number of fractional digits, Python's str(datetime) (a space
// instead of T, which json.dump(default=str) produces), and a bare date.
// A time without a zone is taken as UTC: the zone it was written in is not
// recorded anywhere. The result is truncated to microseconds, the precision
// the store keeps.
func parseTime(s string) (time.Time, error) {
	v := s
	if len(v) > 10 && v[10] == ' ' {
		v = v[:10] + "T" + v[11:]
	}
	var t time.Time
	var err error
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err = time.Parse(layout, v); err == nil {
			break
		}
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q is not an ISO 8601 date-time", s)
	}
	t = t.UTC().Truncate(time.Microsecond)
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, fmt.Errorf("timestamp %q is outside years 1 to 9999", s)
	}
	return t, nil
}
