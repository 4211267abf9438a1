package policy

import (
	"fmt"
	"time"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

// ActiveFreeze returns the first change window (freeze) that contains now. A window
// that cannot be evaluated (Compile reports it as a problem) is skipped rather than
// switching off the others; its error is returned only when no window is active.
func ActiveFreeze(windows []v1alpha1.ChangeWindow, now time.Time) (*v1alpha1.ChangeWindow, error) {
	var firstErr error
	for i := range windows {
		in, err := inWindow(windows[i], now)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if in {
			return &windows[i], nil
		}
	}
	return nil, firstErr
}

func inWindow(w v1alpha1.ChangeWindow, now time.Time) (bool, error) {
	if w.Start != nil || w.End != nil {
		if w.Start == nil || w.End == nil {
			return false, fmt.Errorf("change window %q: a one-off freeze needs both start and end", w.Name)
		}
		if !now.Before(w.Start.Time) && now.Before(w.End.Time) {
			return true, nil
		}
	}
	if w.Weekly == nil {
		return false, nil
	}
	loc := time.UTC
	if w.Weekly.TimeZone != "" {
		l, err := time.LoadLocation(w.Weekly.TimeZone)
		if err != nil {
			return false, fmt.Errorf("change window %q: timeZone %q is not an IANA time zone (e.g. Europe/Berlin)", w.Name, w.Weekly.TimeZone)
		}
		loc = l
	}
	start, err := time.Parse("15:04", w.Weekly.Start)
	if err != nil {
		return false, fmt.Errorf("change window %q: start %q must be HH:MM", w.Name, w.Weekly.Start)
	}
	local := now.In(loc)
	// A weekly freeze may last days (Friday 16:00 for 64h), so look back far enough for
	// every start that could still cover now.
	days := int(w.Weekly.Duration.Duration/(24*time.Hour)) + 1
	for back := 0; back <= days && back <= 7; back++ {
		d := local.AddDate(0, 0, -back)
		if !hasDay(w.Weekly.Days, d.Weekday()) {
			continue
		}
		begin := time.Date(d.Year(), d.Month(), d.Day(), start.Hour(), start.Minute(), 0, 0, loc)
		if !local.Before(begin) && local.Before(begin.Add(w.Weekly.Duration.Duration)) {
			return true, nil
		}
	}
	return false, nil
}

func hasDay(days []v1alpha1.Weekday, d time.Weekday) bool {
	for _, x := range days {
		if string(x) == d.String() {
			return true
		}
	}
	return false
}
