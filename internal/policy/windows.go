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
	return activeFreeze(windows, compileWindows(windows), now)
}

// ActiveFreeze is the package's ActiveFreeze on the policy's change windows, with
// their time zones and start times read once, at Compile (time.LoadLocation reads
// the zone database from disk on every call).
func (c *Compiled) ActiveFreeze(now time.Time) (*v1alpha1.ChangeWindow, error) {
	if len(c.windows) != len(c.Spec.ChangeWindows) {
		return ActiveFreeze(c.Spec.ChangeWindows, now) // not made by Compile
	}
	return activeFreeze(c.Spec.ChangeWindows, c.windows, now)
}

func activeFreeze(windows []v1alpha1.ChangeWindow, compiled []window, now time.Time) (*v1alpha1.ChangeWindow, error) {
	var firstErr error
	for i := range windows {
		in, err := compiled[i].contains(now)
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

// window is a change window ready to evaluate.
type window struct {
	w *v1alpha1.ChangeWindow
	// oneOffErr is set when only one of start and end is; weeklyErr when the weekly
	// schedule's time zone or start cannot be read.
	oneOffErr, weeklyErr error
	loc                  *time.Location
	start                time.Time
}

func compileWindows(windows []v1alpha1.ChangeWindow) []window {
	out := make([]window, len(windows))
	for i := range windows {
		out[i] = compileWindow(&windows[i])
	}
	return out
}

func compileWindow(w *v1alpha1.ChangeWindow) window {
	cw := window{w: w, loc: time.UTC}
	if (w.Start != nil || w.End != nil) && (w.Start == nil || w.End == nil) {
		cw.oneOffErr = fmt.Errorf("change window %q: a one-off freeze needs both start and end", w.Name)
	}
	if w.Weekly == nil {
		return cw
	}
	if w.Weekly.TimeZone != "" {
		l, err := time.LoadLocation(w.Weekly.TimeZone)
		if err != nil {
			cw.weeklyErr = fmt.Errorf("change window %q: timeZone %q is not an IANA time zone (e.g. Europe/Berlin)", w.Name, w.Weekly.TimeZone)
			return cw
		}
		cw.loc = l
	}
	start, err := time.Parse("15:04", w.Weekly.Start)
	if err != nil {
		cw.weeklyErr = fmt.Errorf("change window %q: start %q must be HH:MM", w.Name, w.Weekly.Start)
		return cw
	}
	cw.start = start
	return cw
}

// contains reports whether now falls in the window. The checks run in the order they
// always have: a half-set one-off freeze is an error, a one-off freeze containing
// now wins over a weekly schedule that cannot be read.
func (cw window) contains(now time.Time) (bool, error) {
	w := cw.w
	if cw.oneOffErr != nil {
		return false, cw.oneOffErr
	}
	if w.Start != nil && w.End != nil {
		if !now.Before(w.Start.Time) && now.Before(w.End.Time) {
			return true, nil
		}
	}
	if w.Weekly == nil {
		return false, nil
	}
	if cw.weeklyErr != nil {
		return false, cw.weeklyErr
	}
	loc, start := cw.loc, cw.start
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
