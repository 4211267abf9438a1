package evidence

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

var dayWeek = regexp.MustCompile(`^(\d+)([dw])(.*)$`)

// ParseSince reads the start of an export's time range: an RFC 3339 time
// (2026-05-01T00:00:00Z), a date (2026-05-01, midnight UTC), or a duration back from
// now as Go writes them (90m, 24h, 1h30m) with days and weeks added (7d, 2w, 1d12h).
func ParseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid --since %q: give a duration (24h, 7d, 2w) or an RFC 3339 time (2026-05-01T00:00:00Z)", s)
	}
	if d < 0 {
		return time.Time{}, fmt.Errorf("invalid --since %q: the duration must be positive", s)
	}
	return now.Add(-d), nil
}

func parseDuration(s string) (time.Duration, error) {
	m := dayWeek.FindStringSubmatch(s)
	if m == nil {
		return time.ParseDuration(s)
	}
	n, err := strconv.ParseInt(m[1], 10, 32)
	if err != nil {
		return 0, err
	}
	unit := 24 * time.Hour
	if m[2] == "w" {
		unit *= 7
	}
	d := time.Duration(n) * unit
	if m[3] != "" {
		rest, err := time.ParseDuration(m[3])
		if err != nil {
			return 0, err
		}
		d += rest
	}
	return d, nil
}
