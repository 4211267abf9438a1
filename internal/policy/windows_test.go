package policy_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
)

func weekly(name, tz, start string, d time.Duration, days ...v1alpha1.Weekday) v1alpha1.ChangeWindow {
	return v1alpha1.ChangeWindow{Name: name, Weekly: &v1alpha1.WeeklyWindow{
		Days: days, Start: start, Duration: metav1.Duration{Duration: d}, TimeZone: tz}}
}

func TestActiveFreeze(t *testing.T) {
	berlin := func(day, hour, min int) time.Time { return inBerlin(t, 2026, 11, day, hour, min) } // 27 Nov 2026 is a Friday
	utc := func(day, hour, min int) time.Time { return time.Date(2026, 11, day, hour, min, 0, 0, time.UTC) }
	// Friday 16:00 to Monday 08:00 in Berlin.
	weekend := weekly("weekend", "Europe/Berlin", "16:00", 64*time.Hour, "Friday")
	nightly := weekly("nightly", "", "22:00", 4*time.Hour, "Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
	sat := weekly("saturday-sunday", "UTC", "00:00", 24*time.Hour, "Saturday", "Sunday")
	oneOff := v1alpha1.ChangeWindow{Name: "release", Start: mtime(utc(24, 0, 0)), End: mtime(utc(25, 0, 0))}
	badTZ := weekly("typo", "Europe/Berln", "16:00", time.Hour, "Friday")

	tests := map[string]struct {
		windows []v1alpha1.ChangeWindow
		now     time.Time
		want    string // the active window, "" for none
		err     string // substring of the error, "" for none
	}{
		"just before the weekend freeze":              {windows: []v1alpha1.ChangeWindow{weekend}, now: berlin(27, 15, 59)},
		"the weekend freeze starts on time":           {windows: []v1alpha1.ChangeWindow{weekend}, now: berlin(27, 16, 0), want: "weekend"},
		"its start is Berlin time, not UTC":           {windows: []v1alpha1.ChangeWindow{weekend}, now: utc(27, 15, 30), want: "weekend"},
		"it holds across midnight":                    {windows: []v1alpha1.ChangeWindow{weekend}, now: berlin(28, 0, 30), want: "weekend"},
		"it holds on Sunday noon":                     {windows: []v1alpha1.ChangeWindow{weekend}, now: berlin(29, 12, 0), want: "weekend"},
		"it holds until just before Monday 08:00":     {windows: []v1alpha1.ChangeWindow{weekend}, now: berlin(30, 7, 59), want: "weekend"},
		"it ends at Monday 08:00":                     {windows: []v1alpha1.ChangeWindow{weekend}, now: berlin(30, 8, 0)},
		"Monday 09:00 is outside":                     {windows: []v1alpha1.ChangeWindow{weekend}, now: berlin(30, 9, 0)},
		"Thursday is outside":                         {windows: []v1alpha1.ChangeWindow{weekend}, now: berlin(26, 12, 0)},
		"a nightly freeze reaches into the next day":  {windows: []v1alpha1.ChangeWindow{nightly}, now: utc(24, 1, 0), want: "nightly"},
		"a nightly freeze on a day it does not start": {windows: []v1alpha1.ChangeWindow{nightly}, now: utc(29, 23, 0)},
		"it carries over from Friday into Saturday":   {windows: []v1alpha1.ChangeWindow{nightly}, now: utc(28, 1, 59), want: "nightly"},
		"and ends after its duration":                 {windows: []v1alpha1.ChangeWindow{nightly}, now: utc(28, 2, 0)},
		"a day-long freeze on two days, Saturday":     {windows: []v1alpha1.ChangeWindow{sat}, now: utc(28, 10, 0), want: "saturday-sunday"},
		"a day-long freeze on two days, Sunday night": {windows: []v1alpha1.ChangeWindow{sat}, now: utc(29, 23, 59), want: "saturday-sunday"},
		"a day-long freeze on two days, Monday":       {windows: []v1alpha1.ChangeWindow{sat}, now: utc(30, 0, 0)},
		"inside a one-off freeze":                     {windows: []v1alpha1.ChangeWindow{oneOff}, now: utc(24, 12, 0), want: "release"},
		"a one-off freeze's end is exclusive":         {windows: []v1alpha1.ChangeWindow{oneOff}, now: utc(25, 0, 0)},
		"the first active window is returned":         {windows: []v1alpha1.ChangeWindow{weekend, sat, oneOff}, now: utc(28, 10, 0), want: "weekend"},
		"no windows":                                  {now: utc(28, 10, 0)},
		"a window with an unknown time zone":          {windows: []v1alpha1.ChangeWindow{badTZ}, now: utc(27, 16, 0), err: `timeZone "Europe/Berln" is not an IANA time zone`},
		"a start that is not HH:MM":                   {windows: []v1alpha1.ChangeWindow{weekly("bad", "", "4pm", time.Hour, "Friday")}, now: utc(27, 16, 0), err: `start "4pm" must be HH:MM`},
		"a one-off freeze without an end": {windows: []v1alpha1.ChangeWindow{{Name: "open", Start: mtime(utc(24, 0, 0))}}, now: utc(27, 16, 0),
			err: `change window "open": a one-off freeze needs both start and end`},
		"a broken window does not hide an active one after it":    {windows: []v1alpha1.ChangeWindow{badTZ, oneOff}, now: utc(24, 12, 0), want: "release"},
		"a broken window next to inactive ones is still reported": {windows: []v1alpha1.ChangeWindow{oneOff, badTZ}, now: utc(27, 12, 0), err: "typo"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w, err := policy.ActiveFreeze(tc.windows, tc.now)
			got := ""
			if w != nil {
				got = w.Name
			}
			if got != tc.want {
				t.Errorf("ActiveFreeze(%s) = %q, want %q", tc.now.Format(time.RFC3339), got, tc.want)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one saying %q", err, tc.err)
			}
			// A compiled policy, which reads its windows once, decides the same.
			c := policy.Compile(&v1alpha1.TracePolicy{Spec: v1alpha1.TracePolicySpec{ChangeWindows: tc.windows}}, nil)
			cw, cerr := c.ActiveFreeze(tc.now)
			if (cw == nil) != (w == nil) || cw != nil && cw.Name != w.Name || fmt.Sprint(cerr) != fmt.Sprint(err) {
				t.Errorf("Compiled.ActiveFreeze = %v, %v; ActiveFreeze = %v, %v", cw, cerr, w, err)
			}
		})
	}
}
